"""`manage.py backup run [TARGET] | list | verify RUN | cleanup [--dry-run] | restore RUN --yes |
rehearse [TARGET]`."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backups import services
from backups.models import BackupRun, BackupTarget, Kind, Trigger
from core.errors import DomainError


class ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream, label: str, total: int | None):
        self.stream, self.label, self.total, self.drawn = stream, label, total, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1:
            return
        self.drawn = now
        mb = done / 1024 / 1024
        if self.total:
            filled = min(30, int(30 * done / self.total))
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {mb:,.1f} MiB")
        else:
            self.stream.write(f"\r{self.label} {mb:,.1f} MiB")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


def expected_size(target: BackupTarget) -> int | None:
    path = Path(target.source)
    return (
        path.stat().st_size if target.kind in (Kind.SQLITE, Kind.FILE) and path.is_file() else None
    )


class Command(BaseCommand):
    help = "Back up, list, verify, rotate, restore and rehearse backups."

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True)
        run = verbs.add_parser("run", help="Back up one target, or every enabled one.")
        run.add_argument("target", nargs="?")
        verbs.add_parser("list", help="List targets and their newest runs.")
        verify = verbs.add_parser("verify", help="Re-check a backup run.")
        verify.add_argument("run", type=int)
        cleanup = verbs.add_parser("cleanup", help="Apply every target's retention policy.")
        cleanup.add_argument(
            "--dry-run", action="store_true", help="Only list what would be deleted."
        )
        restore = verbs.add_parser("restore", help="Restore a backup run over its target.")
        restore.add_argument("run", type=int)
        restore.add_argument(
            "--yes", action="store_true", help="Confirm: the target's data is replaced."
        )
        rehearse = verbs.add_parser(
            "rehearse", help="Restore the newest verified backup into scratch and check it."
        )
        rehearse.add_argument("target", nargs="?")

    def handle(self, *args, verb, **options):
        try:
            getattr(self, f"do_{verb}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def targets(self, name: str | None):
        if name is None:
            return list(BackupTarget.objects.filter(enabled=True).select_related("service"))
        try:
            return [BackupTarget.objects.select_related("service").get(name=name)]
        except BackupTarget.DoesNotExist:
            raise CommandError(f"No backup target named {name!r}.") from None

    def do_run(self, *, target=None, **options):
        failed = 0
        for item in self.targets(target):
            bar = ProgressBar(sys.stderr, item.name, expected_size(item))
            run = services.run_backup(target=item, trigger=Trigger.MANUAL, progress=bar)
            bar.close()
            self.stdout.write(
                f"{item.name}: #{run.pk} {run.status} {run.file} {run.size or 0} bytes "
                f"sha256={run.sha256} verification={run.verification} {run.error}".rstrip()
            )
            failed += run.status != "succeeded"
        if failed:
            raise CommandError(f"{failed} backup(s) failed.")

    def do_list(self, **options):
        now = timezone.now()
        for target in BackupTarget.objects.select_related("service").order_by("name"):
            age = services.latest_verified_age(target=target, now=now)
            self.stdout.write(f"{target.name} ({target.kind}) newest verified: {age or 'none'}")
            for run in target.runs.order_by("-id")[:5]:
                self.stdout.write(
                    f"  #{run.pk} {run.status:<9} {run.verification:<8} {run.size or 0:>12} "
                    f"{run.file_name}"
                )

    def do_verify(self, *, run, **options):
        result = services.verify_backup(run=self.get_run(run))
        self.stdout.write(f"#{result.pk}: {result.verification} {result.verification_detail}")
        if result.verification != "passed":
            raise CommandError("Verification failed.")

    def do_cleanup(self, *, dry_run=False, **options):
        for target in BackupTarget.objects.select_related("service").order_by("name"):
            gone = services.apply_retention(target=target, dry_run=dry_run)
            for run in gone:
                self.stdout.write(
                    f"{'would delete' if dry_run else 'deleted'} {target.name} #{run.pk} {run.file}"
                )

    def do_restore(self, *, run, yes=False, **options):
        backup = self.get_run(run)
        if not yes:
            raise CommandError(
                f"Restoring replaces the data of {backup.target.name}; add --yes to confirm."
            )
        restore = services.restore_backup(run=backup, by=None, confirm=backup.target.name)
        self.stdout.write(
            f"restore #{restore.pk}: {restore.status} safety copy #{restore.safety_run_id} "
            f"{restore.integrity or restore.error}"
        )
        if restore.status != "succeeded":
            raise CommandError("Restore failed.")

    def do_rehearse(self, *, target=None, **options):
        failed = 0
        for item in self.targets(target):
            rehearsal = services.rehearse(target=item)
            self.stdout.write(
                f"{item.name}: {'passed' if rehearsal.passed else 'FAILED'} {rehearsal.detail} "
                f"{rehearsal.error}"
            )
            failed += not rehearsal.passed
        if failed:
            raise CommandError(f"{failed} rehearsal(s) failed.")

    def get_run(self, pk: int) -> BackupRun:
        try:
            return BackupRun.objects.select_related("target__service").get(pk=pk)
        except BackupRun.DoesNotExist:
            raise CommandError(f"No backup run #{pk}.") from None
