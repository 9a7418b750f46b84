import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.roles import ensure_roles
from portal.env import env_bool


class Command(BaseCommand):
    help = "First-start set-up: roles, an admin user (password printed once) and demo data."

    def handle(self, *args, **options):
        ensure_roles()
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Admin login: the user created at first start (run "
                "`.venv/bin/python manage.py changepassword admin` to set a new password)."
            )
            return
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", email="", password=password)
        shown = (
            "(from PORTAL_ADMIN_PASSWORD)" if os.environ.get("PORTAL_ADMIN_PASSWORD") else password
        )
        self.stdout.write(
            self.style.SUCCESS(f"Admin login: admin / {shown}   <- printed only this once")
        )
        if env_bool("PORTAL_DEMO_DATA", True):
            call_command("seed_demo", stdout=self.stdout)
