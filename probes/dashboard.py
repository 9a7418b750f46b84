"""The dashboard's probes panel: how many probes in each status, the failing ones first."""

from django.db.models import Count

from probes.models import SEVERITY_ORDER, Probe, Status

WORST_SHOWN = 10


def panel(*, request, now) -> dict:
    counts = dict(
        Probe.objects.filter(enabled=True).values_list("status").annotate(n=Count("id")).order_by()
    )
    by_status = sorted(
        (
            {"status": value, "label": label, "count": counts.get(value, 0)}
            for value, label in Status.choices
        ),
        key=lambda row: SEVERITY_ORDER[row["status"]],
    )
    worst = list(
        Probe.objects.filter(
            enabled=True, status__in=[Status.ERROR, Status.CRITICAL, Status.WARNING]
        )
        .select_related("service")
        .worst_first()[:WORST_SHOWN]
    )
    return {"now": now, "by_status": by_status, "total": sum(counts.values()), "worst": worst}
