"""django-q2 entry points: thin, id-based, each calling one function of backups.services."""

from django.utils import timezone

from backups import services
from backups.models import BackupRun, BackupTarget, Repository, RestoreRun


def dispatch() -> int:
    """Every minute: queue the targets whose cron slot has come."""
    return len(services.dispatch_due(now=timezone.now()))


def perform_backup(run_id: int) -> str:
    return services.perform_backup(
        run=BackupRun.objects.select_related("target__service").get(pk=run_id)
    ).status


def verify_backup(run_id: int) -> str:
    return services.verify_backup(
        run=BackupRun.objects.select_related("target__service").get(pk=run_id)
    ).verification


def perform_restore(restore_id: int) -> str:
    restore = RestoreRun.objects.select_related("backup", "target__service").get(pk=restore_id)
    return services.perform_restore(restore=restore).status


def rehearse(target_id: int | None = None) -> int:
    """Monthly (all targets), or one target on request; returns how many passed."""
    if target_id is None:
        return sum(bool(r.passed) for r in services.rehearse_all())
    return int(bool(services.rehearse(target=BackupTarget.objects.get(pk=target_id)).passed))


def sweep_stale() -> int:
    return len(services.sweep_stale(now=timezone.now()))


def check_freshness() -> int:
    return len(services.check_freshness(now=timezone.now()))


def copy_offsite(run_id: int) -> str:
    run = BackupRun.objects.select_related("target__repository").get(pk=run_id)
    return services.copy_offsite(run=run).offsite_status


def check_repositories(repository_id: int | None = None) -> int:
    """Monthly (every initialised repository), or one on request; returns how many passed."""
    if repository_id is None:
        return sum(bool(r.last_check_passed) for r in services.check_repositories())
    return int(
        bool(
            services.check_repository(
                repository=Repository.objects.get(pk=repository_id)
            ).last_check_passed
        )
    )


def mail_scorecard() -> int:
    """Monthly: the recoverability scorecard to the managers, through the outbox."""
    return services.mail_scorecard(now=timezone.now())
