"""Which backups a target's policy keeps: restic's rules, where a backup kept by any rule stays."""

from django.utils import timezone

from backups.models import BackupRun, BackupTarget, Trigger, Verification

RULES = {
    # rule field → the bucket a backup falls in; each rule keeps the newest backup of its N newest
    # buckets
    "keep_daily": lambda at: at.date(),
    "keep_weekly": lambda at: at.isocalendar()[:2],
    "keep_monthly": lambda at: (at.year, at.month),
}


def plan(target: BackupTarget, runs: list[BackupRun]) -> tuple[list[BackupRun], list[BackupRun]]:
    """Split `runs` (backups with a file) into (keep, delete), newest first.

    The newest verified backup is always kept, whatever the rules say.
    """
    runs = sorted(runs, key=lambda r: (r.started_at or r.queued_at, r.pk), reverse=True)
    kept = {run.pk for run in runs[: target.keep_last]}
    for field, bucket_of in RULES.items():
        wanted = getattr(target, field)
        seen = []
        for run in runs:
            if len(seen) >= wanted:
                break
            bucket = bucket_of(timezone.localtime(run.started_at or run.queued_at))
            if bucket not in seen:
                seen.append(bucket)
                kept.add(run.pk)
    verified = [r for r in runs if r.verification in (Verification.PASSED, Verification.SKIPPED)]
    if verified:
        kept.add(verified[0].pk)
    return [r for r in runs if r.pk in kept], [r for r in runs if r.pk not in kept]


def candidates(target: BackupTarget) -> list[BackupRun]:
    # Safety copies taken before a restore are never rotated away by the schedule's policy.
    return list(
        target.runs.filter(status="succeeded", pruned_at=None)
        .exclude(file="")
        .exclude(trigger=Trigger.PRE_RESTORE)
        .select_related("target")
    )
