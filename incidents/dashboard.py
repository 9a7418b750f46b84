"""The dashboard's incidents panel: open incidents by severity, with their age."""

from django.db.models import Count, Min

from incidents.models import Incident, Severity

OPEN_INCIDENTS_SHOWN = 20


def panel(*, request, now) -> dict:
    open_incidents = Incident.objects.open()
    stats = {row["severity"]: row for row in open_incidents.values("severity").annotate(
        count=Count("id"), oldest=Min("created_at")).order_by()}
    by_severity = [{"severity": value, "label": label, "count": stats.get(value, {}).get("count", 0),
                    "oldest": stats.get(value, {}).get("oldest")} for value, label in Severity.choices]
    return {
        "now": now,
        "open_by_severity": by_severity,
        "open_total": sum(row["count"] for row in by_severity),
        "open_incidents": list(open_incidents.select_related("service").order_by("severity", "created_at")
                               [:OPEN_INCIDENTS_SHOWN]),
    }
