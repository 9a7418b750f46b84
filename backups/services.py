"""Backup workflows: queue, perform, verify, rotate, restore, rehearse, sweep.

Keyword-only functions; each leaves rows behind (BackupRun, RestoreRun,
Rehearsal) as the audit trail. Problems that need a person open an incident
through `incidents.services`, one per target (dedup key `backup:<id>`).
"""

import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_q.tasks import async_task

from backups import kinds, restic, retention
from backups.models import (
    BackupRun,
    BackupTarget,
    Kind,
    OffsiteStatus,
    Rehearsal,
    Repository,
    RestoreRun,
    RestoreStatus,
    RunStatus,
    Trigger,
    Verification,
)
from backups.scorecard import ORDER, scorecards
from core.display import format_duration
from core.errors import DomainError, QueueUnavailable
from core.history import record_change
from core.languages import language_of
from core.paths import backup_path
from incidents.models import (
    OPEN_STATUSES,
    ChannelKind,
    EventKind,
    Incident,
    Purpose,
    RouteEvent,
    Severity,
)
from incidents.services import (
    add_event,
    emit_event,
    open_incident,
    queue_message,
    resolve,
    send_pending,
)

logger = logging.getLogger(__name__)

# A running backup reports progress at least this often; silence for STALE_AFTER means its worker
# died.
PROGRESS_EVERY = 2.0
STALE_AFTER = timedelta(minutes=10)
# Longer than the long cluster's retry: a queued run still waiting then was lost with its task.
QUEUED_TOO_LONG = timedelta(hours=7)
PATH_KINDS = (Kind.SQLITE, Kind.DIRECTORY, Kind.FILE)


class Problem:
    """What went wrong, kept on the incident's timeline (the event's data) so that a later success
    knows what it fixed. A verified run fixes the first three; the others need their own fix."""

    RUN_FAILED = "run_failed"
    VERIFICATION_FAILED = "verification_failed"
    NOT_FRESH = "not_fresh"
    REHEARSAL_FAILED = "rehearsal_failed"
    OFFSITE_FAILED = "offsite_failed"


FIXED_BY_A_VERIFIED_RUN = {Problem.RUN_FAILED, Problem.VERIFICATION_FAILED, Problem.NOT_FRESH}


def dedup_key(target: BackupTarget) -> str:
    return f"backup:{target.pk}"


def report_problem(
    *, target: BackupTarget, problem: str, title: str, description: str, severity: str = "sev3"
) -> None:
    now = timezone.now()
    incident, _created = open_incident(
        service=target.service,
        title=title,
        severity=severity,
        source="backup",
        dedup_key=dedup_key(target),
        description=description,
        data={"problem": problem},
        now=now,
    )
    emit_event(
        event=RouteEvent.BACKUP_FAILED,
        key=f"target:{target.pk}:{problem}:{int(now.timestamp() * 1000)}",
        severity=severity,
        title=title,
        service=target.service,
        detail=description,
        url=settings.BASE_URL + target.get_absolute_url(),
        incident=incident,
        now=now,
    )


def report_recovery(*, run: BackupRun) -> bool:
    """A verified run right after a failed one tells the team channels that route it; whether it
    did."""
    previous = (
        BackupRun.objects.filter(target_id=run.target_id, pk__lt=run.pk)
        .exclude(trigger=Trigger.PRE_RESTORE)
        .order_by("-pk")
        .only("status", "verification")
        .first()
    )
    if previous is None or (
        previous.status != RunStatus.FAILED and previous.verification != Verification.FAILED
    ):
        return False
    target = run.target
    emit_event(
        event=RouteEvent.BACKUP_RECOVERED,
        key=f"run:{run.pk}",
        severity=Severity.SEV4,
        title=_("Backup of %(name)s succeeded again") % {"name": target.name},
        service=target.service,
        detail=_("Backup #%(id)s was verified after a failed one.") % {"id": run.pk},
        url=settings.BASE_URL + run.get_absolute_url(),
    )
    return True


def resolve_fixed(*, run: BackupRun) -> Incident | None:
    """A verified run of the target: its open backup incident resolves itself when every problem
    reported into it is one a verified run fixes (a failed run or verification, no fresh backup);
    one that also holds, say, a failed off-site copy stays open with a note. An incident from before
    problems were recorded has none to go by and stays open too."""
    incident = Incident.objects.filter(
        dedup_key=dedup_key(run.target), status__in=OPEN_STATUSES
    ).first()
    if incident is None:
        return None
    problems = {
        event.data.get("problem")
        for event in incident.events.filter(kind__in=[EventKind.CREATED, EventKind.DUPLICATE]).only(
            "data"
        )
    }
    verified = {"backup": run.pk, "target_name": run.target.name}
    if problems <= FIXED_BY_A_VERIFIED_RUN:
        try:
            resolve(incident=incident, by=None, data={**verified, "variant": "backup_verified"})
        except DomainError:
            return None  # resolved by somebody a moment ago
        return incident
    add_event(
        incident=incident,
        kind=EventKind.NOTE,
        data={**verified, "variant": "backup_verified_partly"},
    )
    return None


# --- Backing up -------------------------------------------------------------


def _create_run(*, target: BackupTarget, trigger: str, by=None) -> BackupRun:
    try:
        with transaction.atomic():
            return BackupRun.objects.create(target=target, trigger=trigger, requested_by=by)
    except IntegrityError:
        raise DomainError(
            _("A backup of %(name)s is already queued or running.") % {"name": target.name},
            code="busy",
            conflict=True,
        ) from None


def _enqueue_long(func: str, pk: int, *, on_failure: Callable[[str], None] | None = None) -> None:
    """Hand a job to the long cluster once committed. If the broker cannot be reached, the row
    is failed at once (a run left `queued` would block the next try for hours) and the caller
    gets QueueUnavailable."""

    def send():
        try:
            async_task(func, pk, cluster=settings.LONG_QUEUE)
        except Exception as exc:  # redis.RedisError, or a database error with the ORM broker
            logger.warning("could not queue %s(%s): %s", func, pk, exc)
            message = _(
                "The task queue cannot be reached, so nothing was started; try again once "
                "/api/health reports the queue ok."
            )
            if on_failure:
                on_failure(message)
            raise QueueUnavailable(message) from exc

    transaction.on_commit(send)


def queue_backup(*, target: BackupTarget, trigger: str, by=None) -> BackupRun:
    """Record a queued run (the claim) and hand it to the long cluster once committed."""
    run = _create_run(target=target, trigger=trigger, by=by)
    _enqueue_long("backups.tasks.perform_backup", run.pk, on_failure=run.mark_failed)
    return run


def run_backup(
    *,
    target: BackupTarget,
    trigger: str,
    by=None,
    progress: Callable[[int], None] | None = None,
    backup: Callable | None = None,
) -> BackupRun:
    """Back up now in this process (CLI, demo data, safety copies)."""
    run = _create_run(target=target, trigger=trigger, by=by)
    return perform_backup(run=run, progress=progress, backup=backup)


def _reporter(run: BackupRun, extra: Callable[[int], None] | None) -> Callable[[int], None]:
    last = [time.monotonic()]

    def report(done: int) -> None:
        if extra:
            extra(done)
        moment = time.monotonic()
        if moment - last[0] >= PROGRESS_EVERY:
            last[0] = moment
            run.record_progress(done, now=timezone.now())

    return report


def partial_path(final: Path) -> Path:
    """Where a backup is written before its rename: hidden, and never matching
    `<target>_<stamp>.<ext>`."""
    return final.with_name(f".{final.name}.partial")


def _remove_partials(final: Path) -> None:
    temp = partial_path(final)
    for leftover in (temp, temp.with_name(temp.name + ".db")):
        leftover.unlink(missing_ok=True)


def _final_path(target: BackupTarget, destination: Path, started: datetime) -> Path:
    moment = timezone.localtime(started).replace(microsecond=0)
    while True:
        final = destination / f"{target.name}_{moment:%Y%m%d_%H%M%S}.{kinds.extension(target)}"
        if not final.exists() and not partial_path(final).exists():
            return final
        moment += timedelta(seconds=1)


def check_paths(target: BackupTarget) -> Path:
    """The destination folder (created if needed); ValidationError if a path left
    PORTAL_FILE_ROOTS."""
    if target.kind in PATH_KINDS:
        backup_path(target.source)
    destination = backup_path(target.destination)
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    return destination


def perform_backup(
    *, run: BackupRun, progress: Callable[[int], None] | None = None, backup: Callable | None = None
) -> BackupRun:
    """Write, fsync and rename the backup file; verify it; rotate old ones after a verified
    success."""
    now = timezone.now()
    claimed = BackupRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker_pid=os.getpid(),
        worker_host=socket.gethostname(),
    )
    run.refresh_from_db()
    if not claimed:
        return run
    target = run.target
    try:
        destination = check_paths(target)
    except (ValidationError, OSError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _fail(run, message)
    final = _final_path(target, destination, run.started_at)
    run.file = str(final)
    run.format = kinds.format_of(target)
    run.save(update_fields=["file", "format"])
    temp = partial_path(final)
    try:
        fmt, sha, size = (backup or kinds.BACKUPS[target.kind])(
            target, temp, _reporter(run, progress)
        )
        # Whatever wrote it (a backup kind, pg_dump, a test's stand-in), the published file is
        # private.
        temp.chmod(0o600)
        os.replace(temp, final)
        kinds.fsync_dir(destination)
    except BaseException as exc:
        _remove_partials(final)
        if not isinstance(exc, Exception):
            run.mark_failed(
                _("Interrupted (%(signal)s); the partial file was removed.")
                % {"signal": type(exc).__name__}
            )
            raise
        if isinstance(exc, kinds.BackupError):
            message = str(exc)
        else:
            message = kinds.disk_full_message(exc) or f"{type(exc).__name__}: {exc}"
            if not kinds.disk_full_message(exc):
                logger.exception("backup of %s failed", target.name)
        return _fail(run, message)
    run.format = fmt
    run.mark_succeeded(size=size, sha256=sha)
    if target.verify:
        verify_backup(run=run)
    if run.verification == Verification.PASSED:
        resolve_fixed(run=run)
    if run.verification in (Verification.PASSED, Verification.SKIPPED):
        report_recovery(run=run)
    if (
        run.verification in (Verification.PASSED, Verification.SKIPPED)
        and run.trigger != Trigger.PRE_RESTORE
    ):
        apply_retention(target=target)
        if target.repository_id:
            copy_offsite(run=run)
    return run


def _fail(run: BackupRun, message: str) -> BackupRun:
    run.mark_failed(message)
    report_problem(
        target=run.target,
        problem=Problem.RUN_FAILED,
        title=_("Backup of %(name)s failed") % {"name": run.target.name},
        description=message,
    )
    return run


def verify_backup(*, run: BackupRun) -> BackupRun:
    """Re-read the file against its recorded SHA-256, then check it with the format's own tool."""
    path = Path(run.file)
    if not run.is_restorable() or not path.is_file():
        run.mark_verified(passed=False, detail=_("The backup file is missing."))
    else:
        sha, _size = kinds.sha256_of(path)
        if sha != run.sha256:
            run.mark_verified(
                passed=False,
                detail=_("Checksum mismatch: recorded %(recorded)s, the file now has %(actual)s.")
                % {"recorded": run.sha256, "actual": sha},
            )
        else:
            passed, detail = kinds.VERIFIERS[run.format](path)
            run.mark_verified(
                passed=passed, detail=_("Checksum matches. %(detail)s") % {"detail": detail}
            )
    if run.verification == Verification.FAILED:
        report_problem(
            target=run.target,
            problem=Problem.VERIFICATION_FAILED,
            title=_("Backup of %(name)s failed verification") % {"name": run.target.name},
            description=run.verification_detail,
        )
    return run


def queue_verify(*, run: BackupRun) -> None:
    _enqueue_long("backups.tasks.verify_backup", run.pk)


# --- Retention ----------------------------------------------------------------


def apply_retention(
    *, target: BackupTarget, dry_run: bool = False, now: datetime | None = None
) -> list[BackupRun]:
    """Delete the backups the policy no longer keeps (or, dry, list them); returns those runs."""
    if not target.keeps_something():
        raise DomainError(
            _("The retention policy of %(name)s keeps nothing; refusing to delete backups.")
            % {"name": target.name},
            field="keep_last",
        )
    runs = retention.candidates(target)
    if not any(r.verification in (Verification.PASSED, Verification.SKIPPED) for r in runs):
        # Without one known-good backup, deleting anything could leave nothing restorable.
        return []
    _keep, delete = retention.plan(target, runs)
    if dry_run:
        return delete
    now = now or timezone.now()
    for run in delete:
        Path(run.file).unlink(missing_ok=True)
        run.mark_pruned(now=now)
    return delete


# --- Restoring -----------------------------------------------------------------


def check_restore(
    *, run: BackupRun, target: BackupTarget, confirm: str, from_repository: bool = False
) -> None:
    """The rules a restore must pass before anything is touched (cheap ones; the checksum comes
    later)."""
    if confirm != target.name:
        # Whether it matches depends on the stored name: a conflict, as a wrong If-Match would be.
        raise DomainError(
            _("Type the target's name (%(name)s) to confirm the restore.") % {"name": target.name},
            field="confirm",
            code="confirm_mismatch",
            conflict=True,
        )
    if from_repository:
        if not run.is_restorable_offsite():
            raise DomainError(
                _("Backup #%(id)s has no snapshot in an off-site repository.") % {"id": run.pk},
                code="no_snapshot",
                conflict=True,
            )
    elif not run.is_restorable() or not Path(run.file).is_file():
        raise DomainError(
            _("Backup #%(id)s has no file to restore from.") % {"id": run.pk},
            code="no_file",
            conflict=True,
        )
    wanted = kinds.format_of(target)
    if run.format != wanted:
        raise DomainError(
            _("Backup #%(id)s is a %(has)s; %(name)s needs a %(wants)s.")
            % {
                "id": run.pk,
                "has": run.get_format_display(),
                "name": target.name,
                "wants": dict(run._meta.get_field("format").choices)[wanted],
            },
            code="wrong_kind",
        )
    if target.kind == Kind.PORTAL_DB and connection.vendor == "postgresql":
        raise DomainError(
            _(
                "The portal cannot restore its own PostgreSQL database while it runs on it: stop "
                "the portal and its workers, then run pg_restore --clean --if-exists "
                "--single-transaction --dbname <portal database> %(file)s."
            )
            % {"file": run.file},
            code="portal_running",
        )
    if target.kind in PATH_KINDS:
        try:
            backup_path(target.source)
        except ValidationError as exc:
            raise DomainError("; ".join(exc.messages), field="target") from None
    if not from_repository and Path(run.file).stat().st_size != run.size:
        raise DomainError(
            _("Checksum error: backup #%(id)s changed on disk since it was written.")
            % {"id": run.pk},
            code="checksum",
        )


def request_restore(
    *,
    run: BackupRun,
    by,
    confirm: str,
    target: BackupTarget | None = None,
    enqueue: bool = True,
    from_repository: bool = False,
) -> RestoreRun:
    target = target or run.target
    check_restore(run=run, target=target, confirm=confirm, from_repository=from_repository)
    into = connection.settings_dict["NAME"] if target.kind == Kind.PORTAL_DB else target.source
    restore = RestoreRun.objects.create(
        backup=run,
        target=target,
        destination=into,
        requested_by=by,
        from_repository=from_repository,
    )
    if enqueue:
        _enqueue_long("backups.tasks.perform_restore", restore.pk, on_failure=restore.mark_failed)
    return restore


def restore_backup(
    *,
    run: BackupRun,
    by,
    confirm: str,
    target: BackupTarget | None = None,
    from_repository: bool = False,
) -> RestoreRun:
    """Restore now in this process (CLI); raises DomainError if a rule forbids it."""
    restore = request_restore(
        run=run,
        by=by,
        confirm=confirm,
        target=target,
        enqueue=False,
        from_repository=from_repository,
    )
    restore = perform_restore(restore=restore)
    if restore.status == RestoreStatus.FAILED and restore.error.startswith(_("Checksum error")):
        raise DomainError(restore.error, code="checksum")
    return restore


def perform_restore(*, restore: RestoreRun) -> RestoreRun:
    """Checksum, safety copy (`pre_restore` run), restore into place, integrity check."""
    claimed = RestoreRun.objects.filter(pk=restore.pk, status=RestoreStatus.QUEUED).update(
        status=RestoreStatus.RUNNING
    )
    restore.refresh_from_db()
    if not claimed:
        return restore
    record_change(restore)
    run, target = restore.backup, restore.target
    if not restore.from_repository:
        return _restore_from(restore, Path(run.file))
    try:
        fetched = fetch_snapshot(
            run=run, into=Path(tempfile.mkdtemp(prefix=".restore-", dir=check_paths(target)))
        )
    except (restic.ResticError, ValidationError, OSError) as exc:
        message = str(exc) if not isinstance(exc, ValidationError) else "; ".join(exc.messages)
        restore.mark_failed(
            _("Reading snapshot %(snapshot)s failed: %(error)s. Nothing was changed.")
            % {"snapshot": run.snapshot_id, "error": message}
        )
        return restore
    try:
        return _restore_from(restore, fetched)
    finally:
        shutil.rmtree(fetched.parent, ignore_errors=True)


def _restore_from(restore: RestoreRun, file: Path) -> RestoreRun:
    run, target = restore.backup, restore.target
    sha, _size = kinds.sha256_of(file) if file.is_file() else ("", 0)
    if sha != run.sha256:
        restore.mark_failed(
            _(
                "Checksum error: backup #%(id)s no longer matches its recorded SHA-256; "
                "nothing was changed."
            )
            % {"id": run.pk}
        )
        return restore
    if (
        target.kind != Kind.PORTAL_DB
        and target.kind in PATH_KINDS
        and not Path(target.source).exists()
    ):
        safety = None  # nothing there to save
    else:
        safety = run_backup(target=target, trigger=Trigger.PRE_RESTORE, by=restore.requested_by)
        if (
            safety.status == RunStatus.FAILED
            and target.kind == Kind.SQLITE
            and kinds.is_damaged(safety.error)
        ):
            # SQLite cannot read the current file, so no consistent copy exists: keep its bytes as
            # they are.
            safety = run_backup(
                target=target,
                trigger=Trigger.PRE_RESTORE,
                by=restore.requested_by,
                backup=kinds.copy_damaged_sqlite,
            )
        if safety.status != RunStatus.SUCCEEDED:
            restore.safety_run = safety
            restore.save(update_fields=["safety_run"])
            restore.mark_failed(
                _("The safety copy of the current data failed (%(error)s); nothing was restored.")
                % {"error": safety.error}
            )
            return restore
        restore.safety_run = safety
        restore.save(update_fields=["safety_run"])
    try:
        passed, detail = kinds.restore_into_target(target, file, run.format)
    except Exception as exc:
        logger.exception("restore of %s from #%s failed", target.name, run.pk)
        if target.kind == Kind.PORTAL_DB:
            _rerecord(restore, run, safety)
        restore.mark_failed(
            _("The restore failed: %(error)s. The safety copy is backup #%(safety)s.")
            % {"error": exc, "safety": safety.pk if safety else "-"}
        )
        return restore
    if target.kind == Kind.PORTAL_DB:
        _rerecord(restore, run, safety)
    if passed:
        restore.mark_succeeded(detail)
    else:
        restore.mark_failed(
            _("The restored data failed its integrity check: %(detail)s") % {"detail": detail}
        )
    return restore


def _rerecord(restore: RestoreRun, run: BackupRun, safety: BackupRun | None) -> None:
    # The portal's database now holds the backup's rows: the backup run itself is in it as it
    # was mid-write, and the safety copy and this restore are not in it at all. Write them back.
    for row in (run, safety, restore):
        if row is not None:
            row.save()


# --- Rehearsals, freshness, sweeps ---------------------------------------------


def rehearse(*, target: BackupTarget) -> Rehearsal:
    """Restore the newest verified backup into a scratch folder, look inside and time it against the
    service's RTO; from the off-site repository when the target has one. Incident on failure."""
    if target.repository_id:
        backup = (
            target.runs.verified()
            .filter(offsite_status=OffsiteStatus.SUCCEEDED, snapshot_forgotten_at=None)
            .first()
        )
    else:
        backup = target.runs.verified().first()
    rto = target.service.rto
    rehearsal = Rehearsal.objects.create(
        target=target,
        backup=backup,
        rto=rto,
        snapshot_id=backup.snapshot_id if backup and target.repository_id else "",
    )
    if backup is None:
        rehearsal.finish(
            passed=False,
            detail={},
            error=_("There is no verified backup to rehearse.")
            if not target.repository_id
            else _("There is no verified backup in the off-site repository to rehearse."),
        )
    elif not target.repository_id and not (
        Path(backup.file).is_file() and kinds.sha256_of(Path(backup.file))[0] == backup.sha256
    ):
        rehearsal.finish(
            passed=False,
            detail={},
            error=_("Backup #%(id)s is missing or no longer matches its checksum.")
            % {"id": backup.pk},
        )
    else:
        # Next to the backup file: on the disk the backups live on, inside PORTAL_FILE_ROOTS.
        folder = Path(backup.file).parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".rehearsal-", dir=folder))
        started = time.monotonic()
        try:
            file = Path(backup.file)
            if target.repository_id:
                file = fetch_snapshot(run=backup, into=scratch)
                if kinds.sha256_of(file)[0] != backup.sha256:
                    raise kinds.BackupError(
                        _(
                            "The file restored from snapshot %(snapshot)s does not match the "
                            "backup's checksum."
                        )
                        % {"snapshot": backup.snapshot_id}
                    )
            passed, detail = kinds.REHEARSALS[backup.format](target, file, scratch)
            duration = timedelta(seconds=time.monotonic() - started)
            rehearsal.duration = duration
            if not passed:
                error = _("The restored copy failed its checks.")
            elif rto is not None and duration > rto:
                passed = False
                error = _("The restore took %(took)s, longer than the RTO of %(rto)s.") % {
                    "took": format_duration(duration),
                    "rto": format_duration(rto),
                }
            else:
                error = ""
            rehearsal.finish(passed=passed, detail=detail, error=error)
        except (restic.ResticError, kinds.BackupError) as exc:
            rehearsal.finish(passed=False, detail={}, error=str(exc))
        except Exception as exc:
            logger.exception("rehearsal of %s failed", target.name)
            rehearsal.finish(passed=False, detail={}, error=f"{type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if not rehearsal.passed:
        report_problem(
            target=target,
            problem=Problem.REHEARSAL_FAILED,
            title=_("Restore rehearsal of %(name)s failed") % {"name": target.name},
            description=rehearsal.error,
        )
    return rehearsal


def rehearse_all() -> list[Rehearsal]:
    return [
        rehearse(target=t)
        for t in BackupTarget.objects.filter(enabled=True).select_related("service")
    ]


def latest_verified_age(*, target: BackupTarget, now: datetime) -> timedelta | None:
    """Age of the newest verified backup (None: there is none)."""
    finished = target.runs.verified().values_list("finished_at", flat=True).first()
    return None if finished is None else now - finished


def check_freshness(*, now: datetime) -> list[BackupTarget]:
    """Open an incident for every target without a verified backup younger than its service's
    RPO."""
    late = []
    for target in BackupTarget.objects.filter(
        enabled=True, service__rpo__isnull=False
    ).select_related("service"):
        age = latest_verified_age(target=target, now=now)
        if age is None or age > target.service.rpo:
            late.append(target)
            report_problem(
                target=target,
                severity="sev2",
                problem=Problem.NOT_FRESH,
                title=_("No verified backup of %(name)s within its RPO") % {"name": target.name},
                description=_("RPO %(rpo)s; newest verified backup: %(age)s old.")
                % {"rpo": target.service.rpo, "age": age if age is not None else _("none")},
            )
    return late


def dispatch_due(*, now: datetime) -> list[BackupRun]:
    """Queue the targets whose cron slot has come. The conditional update on next_run_at is the
    claim: when two clusters run this at once, only one moves the slot and queues the run."""
    queued = []
    for target in (
        BackupTarget.objects.filter(enabled=True)
        .exclude(next_run_at__gt=now)
        .select_related("service")
    ):
        claimed = BackupTarget.objects.filter(pk=target.pk, next_run_at=target.next_run_at).update(
            next_run_at=target.next_run_after(now)
        )
        if not claimed or target.next_run_at is None:
            continue
        try:
            queued.append(queue_backup(target=target, trigger=Trigger.SCHEDULE))
        except DomainError:
            logger.info("scheduled backup of %s skipped: one is still running", target.name)
    return queued


def sweep_stale(*, now: datetime) -> list[BackupRun]:
    """Fail the runs a dead worker left behind and remove their partial files."""
    host = socket.gethostname()
    failed = []
    for run in BackupRun.objects.filter(
        status__in=(RunStatus.RUNNING, RunStatus.QUEUED)
    ).select_related("target"):
        if run.status == RunStatus.QUEUED:
            if run.queued_at >= now - QUEUED_TOO_LONG:
                continue
            message = _("The backup task was never picked up by the long-job cluster.")
        elif run.worker_host == host and run.worker_pid and not psutil.pid_exists(run.worker_pid):
            message = _(
                "The worker (process %(pid)s on %(host)s) stopped while writing this backup; the "
                "partial file was removed."
            ) % {"pid": run.worker_pid, "host": host}
        elif run.heartbeat_at and run.heartbeat_at < now - STALE_AFTER:
            message = _(
                "No progress for %(minutes)d minutes: the worker is gone; the partial file was "
                "removed."
            ) % {"minutes": STALE_AFTER.total_seconds() // 60}
        else:
            continue
        if BackupRun.objects.filter(pk=run.pk, status=run.status).update(
            status=RunStatus.FAILED, error=message, finished_at=now
        ):
            if run.file:
                _remove_partials(Path(run.file))
            run.refresh_from_db()
            report_problem(
                target=run.target,
                problem=Problem.RUN_FAILED,
                title=_("Backup of %(name)s failed") % {"name": run.target.name},
                description=message,
            )
            failed.append(run)
    return failed + _sweep_stale_copies(now=now, host=host)


def _sweep_stale_copies(*, now: datetime, host: str) -> list[BackupRun]:
    """Off-site copies whose worker died: restic never wrote a snapshot for them (it saves the
    snapshot last), so the copy is failed and the next run sends the data again."""
    failed = []
    for run in BackupRun.objects.filter(offsite_status=OffsiteStatus.RUNNING).select_related(
        "target"
    ):
        if run.worker_host == host and run.worker_pid and not psutil.pid_exists(run.worker_pid):
            message = _(
                "The worker (process %(pid)s on %(host)s) stopped while copying this backup "
                "off-site; the local backup is kept."
            ) % {"pid": run.worker_pid, "host": host}
        elif run.heartbeat_at and run.heartbeat_at < now - STALE_AFTER:
            message = _(
                "No progress of the off-site copy for %(minutes)d minutes: the worker is gone; "
                "the local backup is kept."
            ) % {"minutes": STALE_AFTER.total_seconds() // 60}
        else:
            continue
        if BackupRun.objects.filter(pk=run.pk, offsite_status=OffsiteStatus.RUNNING).update(
            offsite_status=OffsiteStatus.FAILED, offsite_error=message, offsite_finished_at=now
        ):
            run.refresh_from_db()
            report_problem(
                target=run.target,
                problem=Problem.OFFSITE_FAILED,
                title=_("Off-site copy of %(name)s failed") % {"name": run.target.name},
                description=message,
            )
            failed.append(run)
    return failed


# --- Off-site copies (restic) ---------------------------------------------------

RESTIC_HOST = "portal"


def _tags(run: BackupRun) -> list[str]:
    # target-id: is what retention selects by, so renaming a target keeps its snapshots in its
    # policy.
    return [f"target:{run.target.name}", f"target-id:{run.target_id}", f"run:{run.pk}"]


def copy_offsite(*, run: BackupRun) -> BackupRun:
    """Send a verified backup file to the target's restic repository as one snapshot, then apply
    the target's policy there with `forget --prune`. A failure is recorded on the run and alerted;
    the local copy is never touched."""
    repository = run.target.repository
    if repository is None:
        return run
    started = timezone.now()
    claimed = (
        BackupRun.objects.filter(pk=run.pk)
        .exclude(offsite_status=OffsiteStatus.RUNNING)
        .update(
            offsite_status=OffsiteStatus.RUNNING,
            repository=repository,
            offsite_error="",
            heartbeat_at=started,
            worker_pid=os.getpid(),
            worker_host=socket.gethostname(),
        )
    )
    run.refresh_from_db()
    if not claimed:
        return run
    repo = repository.as_restic()
    try:
        copied = restic.unlocking(
            repo,
            lambda: restic.backup(
                repo, Path(run.file), tags=_tags(run), host=RESTIC_HOST, progress=_heartbeat(run)
            ),
        )
    except restic.ResticError as exc:
        BackupRun.objects.filter(pk=run.pk).update(
            offsite_status=OffsiteStatus.FAILED,
            offsite_error=str(exc),
            offsite_finished_at=timezone.now(),
        )
        run.refresh_from_db()
        report_problem(
            target=run.target,
            problem=Problem.OFFSITE_FAILED,
            title=_("Off-site copy of %(name)s to %(repository)s failed")
            % {"name": run.target.name, "repository": repository.name},
            description=_("%(error)s The local backup #%(id)s is kept.")
            % {"error": exc, "id": run.pk},
        )
        return run
    BackupRun.objects.filter(pk=run.pk).update(
        offsite_status=OffsiteStatus.SUCCEEDED,
        snapshot_id=copied.snapshot_id,
        offsite_bytes_added=copied.bytes_added,
        offsite_duration=timezone.now() - started,
        offsite_finished_at=timezone.now(),
    )
    run.refresh_from_db()
    forget_offsite(target=run.target)
    return run


def _heartbeat(run: BackupRun) -> Callable[[int], None]:
    """restic reports many times a second; the run's heartbeat (what the sweep reads) moves every
    few."""
    last = [time.monotonic()]

    def beat(_done: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            BackupRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())

    return beat


def forget_offsite(*, target: BackupTarget) -> list[BackupRun]:
    """restic's retention with the target's own policy; marks the runs whose snapshot is gone."""
    repository = target.repository
    keep = {
        "last": target.keep_last,
        "daily": target.keep_daily,
        "weekly": target.keep_weekly,
        "monthly": target.keep_monthly,
    }
    try:
        repo = repository.as_restic()
        forgotten = restic.unlocking(
            repo, lambda: restic.forget(repo, tag=f"target-id:{target.pk}", keep=keep)
        )
    except restic.ResticError as exc:
        report_problem(
            target=target,
            problem=Problem.OFFSITE_FAILED,
            title=_("Retention in %(repository)s failed for %(name)s")
            % {"repository": repository.name, "name": target.name},
            description=str(exc),
        )
        return []
    short = {snapshot_id[:8] for snapshot_id in forgotten}
    runs = [
        run
        for run in target.runs.filter(snapshot_forgotten_at=None).exclude(snapshot_id="")
        if run.snapshot_id[:8] in short
    ]
    now = timezone.now()
    BackupRun.objects.filter(pk__in=[run.pk for run in runs]).update(snapshot_forgotten_at=now)
    return runs


def fetch_snapshot(*, run: BackupRun, into: Path) -> Path:
    """The backup file of `run`, read back from its snapshot into the folder `into`."""
    file = into / Path(run.file).name
    restic.dump(run.repository.as_restic(), run.snapshot_id, run.file, file)
    return file


def init_repository(*, repository: Repository) -> Repository:
    try:
        repository.clean()  # the roots may have changed since it was saved
    except ValidationError as exc:
        raise DomainError("; ".join(exc.messages), field="url") from None
    try:
        restic.init(repository.as_restic())
    except restic.ResticError as exc:
        Repository.objects.filter(pk=repository.pk).update(error=str(exc))
        repository.refresh_from_db()
        raise DomainError(str(exc), code="restic", conflict=True) from None
    Repository.objects.filter(pk=repository.pk).update(initialised_at=timezone.now(), error="")
    return refresh_repository(repository=repository)


def refresh_repository(*, repository: Repository) -> Repository:
    """Read snapshot count and size; an unreachable repository or wrong password lands in
    `error`."""
    repo = repository.as_restic()
    try:
        count = len(restic.snapshots(repo))
        size = int(restic.stats(repo).get("total_size") or 0)
    except restic.ResticError as exc:
        Repository.objects.filter(pk=repository.pk).update(error=str(exc), status_at=timezone.now())
    else:
        Repository.objects.filter(pk=repository.pk).update(
            error="", snapshot_count=count, size=size, status_at=timezone.now()
        )
    repository.refresh_from_db()
    return repository


def check_repository(*, repository: Repository, subset: str = "5%") -> Repository:
    """`restic check --read-data-subset`: the structure, and a sample of the data read back."""
    try:
        repo = repository.as_restic()
        output = restic.unlocking(repo, lambda: restic.check(repo, subset=subset))
        passed, detail = True, output.splitlines()[-1] if output else _("no errors were found")
    except restic.ResticError as exc:
        passed, detail = False, str(exc)
    Repository.objects.filter(pk=repository.pk).update(
        last_check_at=timezone.now(), last_check_passed=passed, last_check_detail=detail
    )
    repository.refresh_from_db()
    if not passed:
        target = repository.targets.select_related("service").order_by("name").first()
        if target is not None:
            open_incident(
                service=target.service,
                severity="sev2",
                source="backup",
                dedup_key=f"restic:{repository.pk}",
                title=_("restic check of %(repository)s failed") % {"repository": repository.name},
                description=detail,
            )
    return repository


def queue_copy(*, run: BackupRun) -> None:
    """Send a verified backup off-site again (after a failed copy)."""
    if run.target.repository_id is None:
        raise DomainError(
            _("%(name)s names no off-site repository.") % {"name": run.target.name},
            code="no_repository",
            conflict=True,
        )
    if not run.is_restorable() or run.verification not in (
        Verification.PASSED,
        Verification.SKIPPED,
    ):
        raise DomainError(
            _("Backup #%(id)s is not a verified backup with a file.") % {"id": run.pk},
            code="no_file",
            conflict=True,
        )
    _enqueue_long("backups.tasks.copy_offsite", run.pk)


def queue_check(*, repository: Repository) -> None:
    _enqueue_long("backups.tasks.check_repositories", repository.pk)


def check_repositories() -> list[Repository]:
    return [
        check_repository(repository=r)
        for r in Repository.objects.filter(initialised_at__isnull=False)
    ]


# --- The monthly recoverability scorecard -------------------------------------------

GRADE_LABELS = {
    "green": gettext_lazy("green"),
    "amber": gettext_lazy("amber"),
    "red": gettext_lazy("red"),
}


def mail_scorecard(*, now: datetime | None = None) -> int:
    """Queue this month's recoverability scorecard to every manager with an e-mail address, in their
    language, through the one outbox (once a month: the month is the message's key); the number
    queued."""
    now = now or timezone.now()
    month = timezone.localtime(now).strftime("%Y-%m")
    # The manager role is the group of that name (core.roles).
    managers = (
        get_user_model()
        .objects.filter(groups__name="manager", is_active=True)
        .exclude(email="")
        .select_related("preference")
        .order_by("pk")
        .distinct()
    )
    url = settings.BASE_URL + reverse("backups:scorecard")
    texts: dict[str, tuple[str, str]] = {}
    queued = 0
    for user in managers:
        language = language_of(user)
        if language not in texts:
            with translation.override(language):
                texts[language] = _scorecard_text(scorecards(now=now), month, url)
        subject, text = texts[language]
        with translation.override(language):
            label = _("Open the scorecard")
        queued += queue_message(
            purpose=Purpose.REPORT,
            key=f"scorecard:{month}",
            recipient=f"user:{user.pk}",
            kind=ChannelKind.EMAIL,
            target=user.email,
            subject=subject,
            text=text,
            url=url,
            language=language,
            link_label=label,
            now=now,
        )
    if queued:
        send_pending(now=now)
    return queued


def _scorecard_text(cards, month: str, url: str) -> tuple[str, str]:
    counts = {grade: sum(card.status == grade for card in cards) for grade in GRADE_LABELS}
    subject = _(
        "Recoverability scorecard %(month)s: %(red)d red, %(amber)d amber, %(green)d green"
    ) % {"month": month, **counts}
    lines = [subject, ""]
    for card in sorted(cards, key=lambda c: (-ORDER[c.status], c.service.name)):
        lines.append(f"{card.service.name}: {GRADE_LABELS[card.status]}")
        lines += [f"  - {reason}" for reason in card.reasons]
    if not cards:
        lines.append(_("No service has a backup target yet."))
    lines += ["", url]
    return subject, "\n".join(lines)
