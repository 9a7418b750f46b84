"""Demo accounts, one per role, so a new user can see what each role may do.

They get unusable passwords: an admin sets one in the admin when wanted, so
no known password ever ships with the portal.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import ROLES


def seed() -> str:
    User = get_user_model()
    created = 0
    for role in ROLES:
        user, new = User.objects.get_or_create(
            username=f"demo-{role}", defaults={"first_name": role.title()}
        )
        if new:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            created += 1
        user.groups.add(Group.objects.get(name=role))
    return (
        f"{created} demo users (demo-viewer, demo-operator, demo-manager; "
        "set a password in the admin to use them)"
    )
