"""The dashboard's checklists panel: today's runs with progress, overdue first."""

from datetime import datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from checklists.models import ACTIVE_STATUSES, Run, RunStatus

SHOWN = 15


def panel(*, request, now) -> dict:
    start = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    today = Q(created_at__gte=start, created_at__lt=start + timedelta(days=1)) | Q(
        status__in=ACTIVE_STATUSES
    )
    runs = list(
        Run.objects.filter(today)
        .exclude(status=RunStatus.MISSED)
        .select_related("template")
        .with_progress()
        .overdue_first()[:SHOWN]
    )
    return {
        "now": now,
        "runs": runs,
        "overdue": sum(1 for r in runs if r.status == RunStatus.OVERDUE),
    }
