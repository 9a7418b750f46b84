"""The dashboard's incidents panel: open incidents by severity, with their age, and the last
30 days' MTTA/MTTR per severity from the per-day rollups (incidents.rollups)."""

import json
from datetime import date, timedelta
from itertools import chain

from django.db.models import Count, Min, Sum
from django.utils.translation import gettext as _

from core import charts
from incidents.models import Incident, IncidentRollup, Severity
from incidents.reports import JoinedText, format_seconds, summarize
from incidents.rollups import day_of

OPEN_INCIDENTS_SHOWN = 20
RECENT_DAYS = 30
ROW_FIELDS = ("title", "severity", "status", "created_at", "service__name")


def panel(*, request, now) -> dict:
    open_incidents = Incident.objects.open()
    stats = {
        row["severity"]: row
        for row in open_incidents.values("severity")
        .annotate(count=Count("id"), oldest=Min("created_at"))
        .order_by()
    }
    by_severity = [
        {
            "severity": value,
            "label": label,
            "count": stats.get(value, {}).get("count", 0),
            "oldest": stats.get(value, {}).get("oldest"),
        }
        for value, label in Severity.choices
    ]
    return {
        "now": now,
        "open_by_severity": by_severity,
        "open_total": sum(row["count"] for row in by_severity),
        # Only what a row shows: the wide incident row (texts, the escalation snapshot as JSON)
        # costs more to load than the row costs to draw.
        "open_incidents": list(
            open_incidents.select_related("service")
            .only(*ROW_FIELDS)
            .order_by("severity", "created_at")[:OPEN_INCIDENTS_SHOWN]
        ),
        "recent_days": RECENT_DAYS,
        **recent(now),
    }


def recent(now) -> dict:
    """Incidents created in the last RECENT_DAYS days (today included) per severity, with the
    median MTTA and MTTR of the resolved ones, and the median MTTR of each day as a small
    chart: one grouped query over the rollups."""
    since = day_of(now) - timedelta(days=RECENT_DAYS - 1)
    found = {value: {"incidents": 0, "tta": [], "ttr": []} for value in Severity.values}
    per_day = {}
    # Summed in the database per day and severity (at most RECENT_DAYS × 4 cells, whatever the
    # number of services), each cell's lists joined as JSON text: one json.loads per cell, not
    # two per rollup row (as in incidents.reports.build_report).
    cells = (
        IncidentRollup.objects.filter(day__gte=since)
        .order_by()
        .values("day", "severity")
        .annotate(count=Sum("incidents"), tta=JoinedText("tta_us"), ttr=JoinedText("ttr_us"))
        .values_list("day", "severity", "count", "tta", "ttr")
    )
    for day, severity, count, tta, ttr in cells:
        tta_us, ttr_us = (list(chain.from_iterable(json.loads(f"[{text}]"))) for text in (tta, ttr))
        found[severity]["incidents"] += count
        found[severity]["tta"] += tta_us
        found[severity]["ttr"] += ttr_us
        per_day.setdefault(day, []).extend(ttr_us)
    rows = []
    for value, label in Severity.choices:
        row = found[value]
        mtta, mttr = (
            summarize([us / 1e6 for us in row[name]])["median"] for name in ("tta", "ttr")
        )
        rows.append(
            {
                "severity": value,
                "label": label,
                "incidents": row["incidents"],
                "resolved": len(row["ttr"]),
                "mtta_median": mtta,
                "mttr_median": mttr,
                "mtta_text": format_seconds(mtta),
                "mttr_text": format_seconds(mttr),
            }
        )
    return {"recent": rows, "mttr_trend": mttr_trend(per_day, since)}


def mttr_trend(per_day: dict[date, list[int]], since: date) -> dict:
    """The median MTTR of the incidents created each day (in µs per incident), oldest day first."""
    days = [since + timedelta(days=n) for n in range(RECENT_DAYS)]
    medians = [summarize([us / 1e6 for us in per_day.get(day, [])])["median"] for day in days]
    return charts.bar_chart(
        title=_("Median MTTR per day, last %(days)d days") % {"days": RECENT_DAYS},
        labels=[day.strftime("%m-%d") for day in days],
        series=[(_("Median MTTR"), medians)],
        fmt=format_seconds,
        scale=charts.nice_duration_top,
        label_every=7,
        height=140,
        empty=_("No resolved incidents in this period."),
    )
