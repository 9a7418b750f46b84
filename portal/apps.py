from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

PORTAL_APPS = (
    "incidents",
    "checklists",
    "probes",
    "backups",
    "status",
    "oncall",
    "alerts",
    "portal",
)


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    # Who changed what (portal.audit) and who holds an API token are for managers.
    manager_permissions = ["portal.view_audit", "portal.manage_api_tokens"]
    nav_more = [
        ("audit", _("Audit"), "portal.view_audit"),
        ("api-tokens", _("API tokens"), "portal.manage_api_tokens"),
    ]

    schedules = [
        # One per cluster: each proves its own workers run (see /api/health).
        {
            "name": "portal.heartbeat",
            "func": "portal.tasks.heartbeat",
            "args": "'portal'",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": None,
        },
        {
            "name": "portal.heartbeat.long",
            "func": "portal.tasks.heartbeat",
            "args": "'long'",
            "schedule_type": "I",
            "minutes": 1,
            "cluster": "long",
        },
    ]

    def ready(self):
        # "portal" is the last installed app, so when its post_migrate fires
        # every other app's permissions and tables exist.
        post_migrate.connect(after_migrate, sender=self)
        # Our login page, the admin's and force_login all end here: restore the
        # user's stored language into the session (core.languages).
        from core.languages import on_login

        user_logged_in.connect(on_login, dispatch_uid="portal.languages.on_login")
        # Workers end a looping task early when `serve` stops them (core.shutdown).
        from django_q.signals import post_spawn

        from core.shutdown import catch_in_worker

        post_spawn.connect(catch_in_worker, dispatch_uid="portal.shutdown.catch_in_worker")
        # Labels of choices read per row on most pages: built once per field (core.display).
        from django.apps import apps

        from core.display import keep_choice_labels

        keep_choice_labels(
            model
            for config in apps.get_app_configs()
            if config.name in PORTAL_APPS
            for model in config.get_models()
        )


def after_migrate(sender, **kwargs):
    from core.roles import ensure_roles
    from portal.schedules import ensure_schedules

    ensure_roles()
    ensure_schedules()
