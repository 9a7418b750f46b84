from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatusConfig(AppConfig):
    name = "status"
    verbose_name = _("Status pages")

    # Telling users is part of the day's work; managers also configure pages, templates and
    # subscribers.
    operator_permissions = [
        "status.add_publicincident",
        "status.add_publicupdate",
        "status.add_notice",
        "status.change_component",
    ]

    nav_more = [("status:pages", _("Status pages"))]
    # Public title, public updates and notices on the incident page
    # (incidents.views.incident_panels).
    incident_panels = [("status/_incident_panel.html", "status.views.incident_panel")]

    def ready(self):
        from django.db.models.signals import post_migrate

        from status.defaults import ensure_notice_templates

        post_migrate.connect(
            ensure_notice_templates, sender=self, dispatch_uid="status.ensure_notice_templates"
        )
