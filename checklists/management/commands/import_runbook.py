from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists import importer
from incidents.models import Service


class Command(BaseCommand):
    help = (
        "Turn a markdown runbook into checklist templates and playbooks. With --dry-run, show "
        "what each section would become (and the cron read from its heading) without writing "
        "anything."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the markdown file (at most 1 MiB)")
        parser.add_argument(
            "--service", help="name of the service the templates and playbooks belong to"
        )
        parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")

    def handle(self, *args, file, service=None, dry_run=False, **options):
        path = Path(file)
        try:
            with path.open("rb") as handle:
                # enough to tell "too large" without reading it all
                data = handle.read(importer.max_bytes() + 1)
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from None
        target = None
        if service:
            target = Service.objects.filter(name=service).first()
            if target is None:
                raise CommandError(f"No service named {service!r}.")
        try:
            plan = importer.read_runbook(data, filename=path.name)
        except importer.RunbookError as exc:
            raise CommandError("\n".join([f"{file}: nothing imported.", *exc.problems])) from None
        self.stdout.write(plan.as_text())
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
            return
        result = importer.import_plan(plan=plan, service=target)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(result.created)}, updated {len(result.updated)}, unchanged "
                f"{len(result.unchanged)}."
            )
        )
