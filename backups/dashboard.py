"""Backup freshness for the dashboard panel, the targets page and /api/metrics."""

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from backups.models import BackupRun, BackupTarget


def with_freshness(queryset=None):
    """Targets annotated with `last_verified_at` and `last_run_id`."""
    # Newest first by id (BackupRunQuerySet.verified says why), not MAX(finished_at) over a join.
    runs_of_target = BackupRun.objects.filter(target=OuterRef("pk")).order_by("-id")
    last_verified = BackupRun.objects.filter(target=OuterRef("pk")).verified()
    return (
        (queryset if queryset is not None else BackupTarget.objects.all())
        .select_related("service", "repository")
        .annotate(
            last_verified_at=Subquery(last_verified.values("finished_at")[:1]),
            last_run_id=Subquery(runs_of_target.values("pk")[:1]),
        )
        .order_by("name")
    )


def targets_with_freshness(now, queryset=None, *, last_run: bool = True) -> list[BackupTarget]:
    """Targets with `last_verified_at`, `age`, `state` and (unless `last_run` is false)
    `last_run` set, in a constant number of queries."""
    targets = list(with_freshness(queryset))
    runs = (
        BackupRun.objects.in_bulk([t.last_run_id for t in targets if t.last_run_id])
        if last_run
        else {}
    )
    for target in targets:
        target.age = now - target.last_verified_at if target.last_verified_at else None
        target.state = target.freshness(target.age)
        target.last_run = runs.get(target.last_run_id)
    return targets


# The dashboard lists the targets that need someone, worst first, up to this many; the backups
# page lists them all. Fifty fresh targets were fifty lines to read past (and a fifth of the
# dashboard's time at full scale).
PANEL_ROWS = 8
WORST_FIRST = {"critical": 0, "warning": 1}


def panel(*, request, now) -> dict:
    # The panel shows names and ages: the encrypted source and repository password stay unread
    # (each is decrypted when a row is loaded), and so do the last runs (one wide row a target).
    targets = targets_with_freshness(
        now, BackupTarget.objects.defer("source", "repository__password"), last_run=False
    )
    attention = sorted(
        (t for t in targets if t.state in WORST_FIRST),
        key=lambda t: (
            WORST_FIRST[t.state],
            t.last_verified_at is not None,
            t.last_verified_at,
            t.name,
        ),
    )
    return {
        "now": now,
        "total": len(targets),
        "fresh": len(targets) - len(attention),
        "attention": len(attention),
        "targets": attention[:PANEL_ROWS],
    }


def verified_ages():
    now = timezone.now()
    age = GaugeMetricFamily(
        "portal_backup_last_verified_age_seconds",
        "Seconds since the newest verified backup of each target finished.",
        labels=["target"],
    )
    has = GaugeMetricFamily(
        "portal_backup_has_verified",
        "1 when a target has at least one verified backup.",
        labels=["target"],
    )
    for target in targets_with_freshness(now, last_run=False):
        if target.age is not None:
            age.add_metric([target.name], target.age.total_seconds())
        has.add_metric([target.name], 0.0 if target.age is None else 1.0)
    yield age
    yield has
