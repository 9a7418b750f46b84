"""The three roles of DESIGN §7 as Django groups, rebuilt after every migrate.

viewer    reads everything of the portal's apps;
operator  also does the day's work (each app lists it: `operator_permissions`);
manager   also edits configuration: add/change/delete on every model of the
          portal's apps, plus what an app lists in `manager_permissions`.
Admin users (is_superuser) can do everything.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

VIEWER, OPERATOR, MANAGER = "viewer", "operator", "manager"
ROLES = (VIEWER, OPERATOR, MANAGER)
PORTAL_APPS = (
    "portal",
    "incidents",
    "checklists",
    "probes",
    "backups",
    "status",
    "oncall",
    "alerts",
)
# Background-task history is readable by everyone with a role.
READABLE_APPS = (*PORTAL_APPS, "django_q")


def role_codenames() -> dict[str, set[str]]:
    """Role → set of "app_label.codename"."""
    viewer, operator, manager = set(), set(), set()
    for config in apps.get_app_configs():
        if config.label not in READABLE_APPS:
            continue
        for model in config.get_models():
            opts = model._meta
            if "view" in opts.default_permissions:
                viewer.add(f"{opts.app_label}.view_{opts.model_name}")
            if config.label in PORTAL_APPS:
                for action in ("add", "change", "delete"):
                    if action in opts.default_permissions:
                        manager.add(f"{opts.app_label}.{action}_{opts.model_name}")
        operator.update(getattr(config, "operator_permissions", ()))
        manager.update(getattr(config, "manager_permissions", ()))
    operator |= viewer
    manager |= operator
    return {VIEWER: viewer, OPERATOR: operator, MANAGER: manager}


@transaction.atomic
def ensure_roles() -> None:
    by_key = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role, codenames in role_codenames().items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_key[c] for c in sorted(codenames) if c in by_key])


def role_of(user) -> str | None:
    """The highest role a user holds ("admin" for superusers)."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return "admin"
    names = {g.name for g in user.groups.all()}
    for role in reversed(ROLES):
        if role in names:
            return role
    return None
