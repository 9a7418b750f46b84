import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

# In dependency order: what a later app seeds may point at an earlier one's rows.
DEMO_MODULES = (
    "portal.demo",
    "incidents.demo",
    "checklists.demo",
    "probes.demo",
    "backups.demo",
    "oncall.demo",
)


class Command(BaseCommand):
    help = "Load demo data (fictional services, people, incidents…). Safe to run twice."

    def handle(self, *args, **options):
        for name in DEMO_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name not in (name, name.split(".")[0]):
                    raise
                continue
            with transaction.atomic():
                summary = module.seed()
            self.stdout.write(f"demo data: {name.split('.')[0]}: {summary}")
