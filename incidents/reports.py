"""MTTA / MTTR reports per severity and per month (DESIGN §3).

MTTA = first acknowledgement − created; an incident resolved without an ack
counts its resolve time (as Opsgenie does). MTTR = resolved − created. Both
over resolved incidents only: a still-open incident has no value yet and is
left out (it is counted in `incidents` and `open`). Downtime = resolved −
impact start (or created when unknown); RTO met when downtime ≤ service.rto.

Pages and the API read the per-day rollups (`build_report`, incidents.rollups):
three queries, over the rollup rows, the published postmortems and the open
action items of the period. `build_report_direct` computes the same from the
incidents (one grouped aggregate for the counts and sums, one for the action
items, and for median/p95 either `percentile_cont` per grouping on PostgreSQL or
one fetch of the duration columns on SQLite); a test holds the two equal.
"""

import bisect
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain

from django.db import connection, models
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import charts as charts_lib
from core.display import format_duration
from incidents.models import (
    PUBLISHED_STATUSES,
    REQUIRES_POSTMORTEM,
    ActionItem,
    ActionItemStatus,
    Incident,
    IncidentMonthRollup,
    IncidentRollup,
    Postmortem,
    Severity,
    portal_zone,
)
from incidents.rollups import MICROSECOND

MAX_MONTHS = 36
# "Not done" as the statuses it is, which the (status, due date) index of action items answers.
OPEN_ITEM_STATUSES = [value for value in ActionItemStatus.values if value != ActionItemStatus.DONE]
METRICS = ("mtta", "mttr")


@dataclass(frozen=True)
class Period:
    """Whole months, first to last inclusive, in the portal's time zone."""

    first: date  # the 1st of the first month
    last: date  # the 1st of the last month

    @classmethod
    def last_months(cls, count: int, today: date) -> "Period":
        last = today.replace(day=1)
        return cls(first=add_months(last, -(count - 1)), last=last)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=portal_zone())

    @property
    def end(self) -> datetime:
        return datetime.combine(add_months(self.last, 1), time(0), tzinfo=portal_zone())

    def month_index(self, field: str) -> models.Case:
        """0 for a time in the first month, 1 for the second…: a CASE over the month
        boundaries, which every database evaluates natively (no per-row time-zone
        conversion) on rows already limited to the period."""
        months = self.months()
        whens = [
            models.When(
                **{f"{field}__lt": datetime.combine(month, time(0), tzinfo=portal_zone())},
                then=models.Value(index),
            )
            for index, month in enumerate(months[1:])
        ]
        return models.Case(
            *whens, default=models.Value(len(months) - 1), output_field=models.IntegerField()
        )

    def key(self, index: int) -> str:
        return self.months()[index].strftime("%Y-%m")

    def months(self) -> list[date]:
        months, month = [], self.first
        while month <= self.last:
            months.append(month)
            month = add_months(month, 1)
        return months


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks: what PostgreSQL's percentile_cont does."""
    if not values:
        return None
    return _percentile_of_sorted(sorted(values), q)


def _percentile_of_sorted(ordered: list[float], q: float) -> float:
    k = (len(ordered) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None, "p95": None}
    # fsum: the exact sum whatever the order, so the rollups' mean equals the direct one to the bit.
    # Sorted once for both percentiles: a year of incidents is ~100 000 values per grouping.
    ordered = sorted(values)
    return {
        "mean": math.fsum(ordered) / len(ordered),
        "median": _percentile_of_sorted(ordered, 0.5),
        "p95": _percentile_of_sorted(ordered, 0.95),
    }


class PercentileCont(models.Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(q) WITHIN GROUP (ORDER BY expr)`."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


class JoinedText(models.Aggregate):
    """A group's values as text joined with commas: GROUP_CONCAT on SQLite, STRING_AGG on
    PostgreSQL."""

    function = "GROUP_CONCAT"
    output_field = models.TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s((%(expressions)s)::text, ',')",
            **extra_context,
        )


class WeekIndex(models.Func):
    """The week of a date counted from the Monday `since` (0, 1, …), in the database: a year of
    rollups summed per week and service is about 50 × services rows, not one per day."""

    output_field = models.IntegerField()

    def __init__(self, expression, *, since: date):
        super().__init__(expression, models.Value(since, output_field=models.DateField()))

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST((JULIANDAY(%(expressions)s)) / 7 AS INTEGER)",
            arg_joiner=") - JULIANDAY(",
            **extra_context,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        # date − date is a whole number of days; integer division.
        return self.as_sql(
            compiler,
            connection,
            template="((%(expressions)s) / 7)",
            arg_joiner=" - ",
            **extra_context,
        )


class JulianDay(models.Func):
    """SQLite's native julianday(): date arithmetic in C instead of Django's per-row Python
    functions."""

    function = "JULIANDAY"
    output_field = models.FloatField()


def elapsed(end, start) -> ExpressionWrapper:
    """end − start as a duration. On SQLite, Django computes a difference of
    datetimes with a Python function called per row; julianday() does it in C.
    (SQLite stores durations as microseconds: rounded to the millisecond, which
    drops julianday's floating-point noise.)"""
    if connection.vendor == "sqlite":
        micros = (
            models.Func((JulianDay(end) - JulianDay(start)) * 86_400_000.0, function="ROUND") * 1000
        )
        return ExpressionWrapper(
            models.functions.Cast(micros, models.BigIntegerField()), output_field=DurationField()
        )
    return ExpressionWrapper(end - start, output_field=DurationField())


def _durations(from_impact: bool):
    start = Coalesce("impact_started_at", "created_at") if from_impact else F("created_at")
    return {
        "mtta": ExpressionWrapper(
            Coalesce("acknowledged_at", "resolved_at") - F("created_at"),
            output_field=DurationField(),
        ),
        "mttr": ExpressionWrapper(F("resolved_at") - start, output_field=DurationField()),
    }


def incidents_in(period: Period, service=None):
    incidents = Incident.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if service is not None:
        incidents = incidents.filter(service=service)
    return incidents


def read_cells(*, period: Period, service=None) -> list[tuple]:
    """The period's month rollups (incidents.rollups) summed per month, severity and the service's
    RTO: at most months × 4 × the distinct RTOs cells of (month "YYYY-MM", severity, RTO, incidents,
    tta_us, ttr_us, downtime_us), each list in microseconds. One query over at most
    months × services × severities rows, whatever the number of incidents or days; the report and
    its trend charts both read it."""
    rollups = IncidentMonthRollup.objects.filter(
        month__gte=period.first, month__lte=period.last
    ).order_by()
    if service is not None:
        rollups = rollups.filter(service=service)
    # Each cell's lists joined as JSON text in the database and decoded in one json.loads per
    # cell: no Python work per rollup row.
    rows = (
        rollups.values("month", "severity", "service__rto")
        .annotate(
            count=Sum("incidents"),
            tta=JoinedText("tta_us"),
            ttr=JoinedText("ttr_us"),
            downtime=JoinedText("downtime_us"),
        )
        .values_list("month", "severity", "service__rto", "count", "tta", "ttr", "downtime")
    )
    return [
        (
            month.strftime("%Y-%m"),
            severity,
            rto,
            count,
            *(list(chain.from_iterable(json.loads(f"[{joined}]"))) for joined in lists),
        )
        for month, severity, rto, count, *lists in rows
    ]


def build_report(
    *,
    period: Period,
    service=None,
    from_impact: bool = False,
    now: datetime | None = None,
    cells: list[tuple] | None = None,
) -> dict:
    """The report the pages, the API and the CSV show, read from the month rollups
    (incidents.rollups): three queries over at most months × services × severities rows and the
    postmortems, whatever the number of incidents. Equal to `build_report_direct`. `cells`: what
    `read_cells` answered for this period and service, if the caller has read it already."""
    now = now or timezone.now()
    zone = portal_zone()
    if cells is None:
        cells = read_cells(period=period, service=service)
    groups = {"total": {}, "severity": {}, "month": {}}
    values = {}  # (month, severity, metric): durations in µs
    for month, severity, rto, count, tta_us, ttr_us, downtime_us in cells:
        resolved = len(ttr_us)
        # Counted in C (map), not a generator per duration: a year is ~100 000 of them.
        rto_met = sum(map((rto // MICROSECOND).__ge__, downtime_us)) if rto is not None else 0
        row = {
            "incidents": count,
            "resolved": resolved,
            "downtime_total": timedelta(microseconds=sum(downtime_us)),
            "rto_met": rto_met,
            "rto_missed": resolved - rto_met if rto is not None else 0,
            "postmortems_required": resolved if severity in REQUIRES_POSTMORTEM else 0,
        }
        durations = {"mtta": tta_us, "mttr": downtime_us if from_impact else ttr_us}
        for key in (("total", "all"), ("severity", severity), ("month", month)):
            _add(groups, *key, row)
        for metric, found in durations.items():
            values.setdefault((month, severity, metric), []).extend(found)
    # Joined from the postmortems and action items (a few thousand rows) to their incidents, not
    # `incident IN (every incident of the period)`, a list of most of the incidents table.
    of_period = {
        "incident__created_at__gte": period.start,
        "incident__created_at__lt": period.end,
        **({"incident__service": service} if service is not None else {}),
    }
    published = (
        Postmortem.objects.filter(
            **of_period,
            incident__resolved_at__isnull=False,
            incident__severity__in=REQUIRES_POSTMORTEM,
            status__in=PUBLISHED_STATUSES,
        )
        .order_by()
        .annotate(
            month=period.month_index("incident__created_at"),
        )
        .values("month", "incident__severity")
        .annotate(postmortems_published=Count("id"))
    )
    for row in published:
        for key in (
            ("total", "all"),
            ("severity", row["incident__severity"]),
            ("month", period.key(row["month"])),
        ):
            _add(groups, *key, row)
    items = ActionItem.objects.filter(
        **{f"postmortem__{k}": v for k, v in of_period.items()},
        status__in=OPEN_ITEM_STATUSES,
    )
    _add_action_items(groups, items, period, timezone.localtime(now, zone).date())
    return _assemble(
        groups,
        _stats_of_cells(values),
        period=period,
        service=service,
        from_impact=from_impact,
        zone=zone,
    )


def _stats_of_cells(values: dict) -> dict:
    """{(grouping, key, metric): {"mean", "median", "p95"}} in seconds from the durations in µs of
    each (month, severity, metric). Each cell is sorted once; a month's, a severity's and the
    total's lists are sorted from those sorted runs, which Python's sort merges (n log runs, not
    n log n)."""
    cells = {key: sorted(found) for key, found in values.items()}
    months = sorted({month for month, _severity, _metric in cells})
    severities = sorted({severity for _month, severity, _metric in cells})
    stats = {}
    for metric in METRICS:
        by_severity = {
            severity: sorted(
                chain.from_iterable(cells.get((month, severity, metric), ()) for month in months)
            )
            for severity in severities
        }
        for month in months:
            in_month = (cells.get((month, severity, metric), ()) for severity in severities)
            stats[("month", month, metric)] = summarize_us(sorted(chain.from_iterable(in_month)))
        for severity, ordered in by_severity.items():
            stats[("severity", severity, metric)] = summarize_us(ordered)
        stats[("total", "all", metric)] = summarize_us(
            sorted(chain.from_iterable(by_severity.values()))
        )
    return stats


def summarize_us(ordered: list[int]) -> dict:
    """`summarize` of these sorted durations in µs, in seconds, to the bit: x / 1e6 keeps the
    order, so the percentiles convert only the two values they read, and fsum adds the converted
    values exactly whatever their order."""
    if not ordered:
        return summarize([])
    in_seconds = (1e6).__rtruediv__  # us / 1e6, called from C by map

    def at(q: float) -> float:
        k = (len(ordered) - 1) * q
        lo = math.floor(k)
        hi = min(lo + 1, len(ordered) - 1)
        low, high = in_seconds(ordered[lo]), in_seconds(ordered[hi])
        return low + (high - low) * (k - lo)

    return {
        "mean": math.fsum(map(in_seconds, ordered)) / len(ordered),
        "median": at(0.5),
        "p95": at(0.95),
    }


def build_report_direct(
    *, period: Period, service=None, from_impact: bool = False, now: datetime | None = None
) -> dict:
    """The same report computed from the incidents themselves, each time (what the rollups must
    equal)."""
    now = now or timezone.now()
    zone = portal_zone()
    today = timezone.localtime(now, zone).date()
    incidents = incidents_in(period, service).order_by()
    month = period.month_index("created_at")
    downtime = elapsed(F("resolved_at"), Coalesce("impact_started_at", "created_at"))
    resolved = Q(resolved_at__isnull=False)
    required = resolved & Q(severity__in=REQUIRES_POSTMORTEM)
    counts = (
        incidents.annotate(month=month, downtime=downtime)
        .values("month", "severity")
        .annotate(
            incidents=Count("id"),
            resolved=Count("id", filter=resolved),
            downtime_total=Sum("downtime", filter=resolved),
            rto_met=Count(
                "id",
                filter=resolved & Q(service__rto__isnull=False, downtime__lte=F("service__rto")),
            ),
            rto_missed=Count(
                "id",
                filter=resolved & Q(service__rto__isnull=False, downtime__gt=F("service__rto")),
            ),
            postmortems_required=Count("id", filter=required),
            postmortems_published=Count(
                "id", filter=required & Q(postmortem__status__in=PUBLISHED_STATUSES)
            ),
        )
    )
    groups = {"total": {}, "severity": {}, "month": {}}
    for row in counts:
        for key in (
            ("total", "all"),
            ("severity", row["severity"]),
            ("month", period.key(row["month"])),
        ):
            _add(groups, *key, row)
    items = ActionItem.objects.filter(postmortem__incident__in=incidents)
    _add_action_items(groups, items, period, today)
    stats = _duration_stats(incidents, from_impact, zone, period)
    return _assemble(
        groups, stats, period=period, service=service, from_impact=from_impact, zone=zone
    )


SUMS = (
    "incidents",
    "resolved",
    "downtime_total",
    "rto_met",
    "rto_missed",
    "postmortems_required",
    "postmortems_published",
    "action_items_open",
    "action_items_overdue",
)


def _add(groups: dict, kind: str, key: str, row: dict) -> None:
    target = groups[kind].get(key)
    if target is None:
        target = groups[kind][key] = _empty_row()
    for name in SUMS:
        if name in row:
            target[name] += row[name] or (timedelta(0) if name == "downtime_total" else 0)


def _add_action_items(groups: dict, items, period: Period, today: date) -> None:
    """Open and overdue action items per month and severity of their incidents: `items` are the
    period's (the direct computation passes those of its incidents)."""
    items = (
        items.exclude(status=ActionItemStatus.DONE)
        .order_by()
        .annotate(
            month=period.month_index("postmortem__incident__created_at"),
            severity=F("postmortem__incident__severity"),
        )
        .values("month", "severity")
        .annotate(open=Count("id"), overdue=Count("id", filter=Q(due_date__lt=today)))
    )
    for row in items:
        for key in (
            ("total", "all"),
            ("severity", row["severity"]),
            ("month", period.key(row["month"])),
        ):
            _add(
                groups,
                *key,
                {"action_items_open": row["open"], "action_items_overdue": row["overdue"]},
            )


def _assemble(
    groups: dict, stats: dict, *, period: Period, service, from_impact: bool, zone
) -> dict:
    def finish(kind, key, label):
        row = groups[kind].get(key, _empty_row())
        row.update(
            key=key,
            label=label,
            open=row["incidents"] - row["resolved"],
            downtime_seconds=row.pop("downtime_total").total_seconds(),
        )
        required_count = row["postmortems_required"]
        row["postmortem_rate"] = (
            row["postmortems_published"] / required_count if required_count else None
        )
        for metric in METRICS:
            row[metric] = stats.get((kind, key, metric)) or summarize([])
        return row

    return {
        "period": {
            "first": period.first.strftime("%Y-%m"),
            "last": period.last.strftime("%Y-%m"),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "service": getattr(service, "pk", service),
        "from_impact": from_impact,
        "time_zone": str(zone),
        "total": finish("total", "all", str(_("All"))),
        "by_severity": [finish("severity", value, str(label)) for value, label in Severity.choices],
        "by_month": [
            finish("month", month.strftime("%Y-%m"), month.strftime("%Y-%m"))
            for month in period.months()
        ],
    }


def _empty_row() -> dict:
    return {
        "incidents": 0,
        "resolved": 0,
        "downtime_total": timedelta(0),
        "rto_met": 0,
        "rto_missed": 0,
        "postmortems_required": 0,
        "postmortems_published": 0,
        "action_items_open": 0,
        "action_items_overdue": 0,
    }


def _duration_stats(incidents, from_impact: bool, zone, period: Period) -> dict:
    """{(grouping, key, metric): {"mean", "median", "p95"}} in seconds, over resolved incidents."""
    resolved = incidents.filter(resolved_at__isnull=False)
    if connection.vendor == "postgresql":
        return _stats_in_database(resolved.annotate(**_durations(from_impact)), period)
    # SQLite has no percentile function: fetch three numbers per incident,
    # computed by SQLite itself, and find each one's month by bisection.
    start = Coalesce("impact_started_at", "created_at") if from_impact else F("created_at")
    day = 86400.0
    rows = resolved.annotate(
        created_jd=JulianDay("created_at"),
        tta=(JulianDay(Coalesce("acknowledged_at", "resolved_at")) - JulianDay("created_at")) * day,
        ttr=(JulianDay("resolved_at") - JulianDay(start)) * day,
    ).values_list("created_jd", "severity", "tta", "ttr")
    months = period.months()
    keys = [month.strftime("%Y-%m") for month in months]
    bounds = [_julian_day(datetime.combine(month, time(0), tzinfo=zone)) for month in months[1:]]
    values = {}
    for created_jd, severity, tta, ttr in rows:
        month = keys[bisect.bisect_right(bounds, created_jd)]
        # julianday() is a double: keep milliseconds, drop its rounding noise.
        for metric, seconds in (("mtta", round(tta, 3)), ("mttr", round(ttr, 3))):
            for key in (("total", "all"), ("severity", severity), ("month", month)):
                values.setdefault((*key, metric), []).append(seconds)
    return {key: summarize(found) for key, found in values.items()}


def _julian_day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + 2440587.5


def _stats_in_database(resolved, period: Period) -> dict:
    aggregates = {}
    for metric in METRICS:
        aggregates[f"{metric}_mean"] = models.Avg(metric)
        aggregates[f"{metric}_median"] = PercentileCont(metric, 0.5)
        aggregates[f"{metric}_p95"] = PercentileCont(metric, 0.95)
    groupings = [
        ("total", None, resolved.aggregate(**aggregates) | {"key": "all"}),
        *(
            ("severity", "severity", row)
            for row in resolved.values("severity").annotate(**aggregates)
        ),
        *(
            ("month", "month", row)
            for row in resolved.annotate(month=period.month_index("created_at"))
            .values("month")
            .annotate(**aggregates)
        ),
    ]
    stats = {}
    for kind, field, row in groupings:
        key = (
            "all"
            if field is None
            else (period.key(row["month"]) if field == "month" else row["severity"])
        )
        for metric in METRICS:
            stats[(kind, key, metric)] = {
                part: (
                    row[f"{metric}_{part}"].total_seconds()
                    if row[f"{metric}_{part}"] is not None
                    else None
                )
                for part in ("mean", "median", "p95")
            }
    return stats


# Charts: core.charts computes the geometry, templates/core/chart.html draws it ------------


def charts(report: dict) -> list[dict]:
    """Incidents and median MTTA/MTTR per month, and MTTR p95 per severity."""
    months, severities = report["by_month"], report["by_severity"]
    month_labels = [row["label"] for row in months]
    empty = str(_("No resolved incidents in this period."))

    def durations(title, rows, value) -> dict:
        labels = [row["label"] for row in rows]
        return charts_lib.bar_chart(
            title=str(title),
            labels=labels,
            series=[(str(title), [value(row) for row in rows])],
            fmt=format_duration,
            scale=charts_lib.nice_duration_top,
            label_every=_label_step(len(labels), 12),
            empty=empty,
        )

    return [
        charts_lib.bar_chart(
            title=str(_("Incidents per month")),
            labels=month_labels,
            series=[(str(_("Incidents")), [row["incidents"] for row in months])],
            fmt=_count,
            scale=charts_lib.nice_count_top,
            label_every=_label_step(len(month_labels), 12),
            empty=str(_("No incidents in this period.")),
        ),
        durations(_("Median MTTA per month"), months, lambda row: row["mtta"]["median"]),
        durations(_("Median MTTR per month"), months, lambda row: row["mttr"]["median"]),
        durations(_("MTTR p95 per severity"), severities, lambda row: row["mttr"]["p95"]),
    ]


TOP_SERVICES = 5


def trend_charts(
    *, period: Period, service=None, from_impact: bool = False, cells: list[tuple] | None = None
) -> list[dict]:
    """MTTA and MTTR per month by severity, from the cells of `read_cells` (read here unless
    given), and incidents per week by service (the top TOP_SERVICES and "Other"), from the day
    rollups' (day, service, incidents) index: two queries over at most months × services ×
    severities rows and the days' index, whatever the number of incidents."""
    if cells is None:
        cells = read_cells(period=period, service=service)
    rollups = IncidentRollup.objects.filter(
        day__gte=period.first, day__lt=add_months(period.last, 1)
    ).order_by()
    if service is not None:
        rollups = rollups.filter(service=service)
    return [*_severity_trends(cells, period, from_impact), _weekly_by_service(rollups, period)]


def _severity_trends(cells: list[tuple], period: Period, from_impact: bool) -> list[dict]:
    months = [month.strftime("%Y-%m") for month in period.months()]
    found = {}
    for month, severity, _rto, _count, tta_us, ttr_us, downtime_us in cells:
        measured = (tta_us, downtime_us if from_impact else ttr_us)
        for metric, values in zip(METRICS, measured, strict=True):
            found.setdefault((metric, month, severity), []).extend(values)
    # The exact integer sum: what fsum of the (integral) values gives, without a float per value.
    means = {key: float(sum(us)) / len(us) / 1e6 for key, us in found.items() if us}
    titles = {
        "mtta": _("MTTA per month by severity (mean)"),
        "mttr": _("MTTR per month by severity (mean)"),
    }
    return [
        charts_lib.bar_chart(
            title=str(titles[metric]),
            labels=months,
            fmt=format_duration,
            scale=charts_lib.nice_duration_top,
            label_every=_label_step(len(months), 6),
            series=[
                (str(label), [means.get((metric, month, value)) for month in months])
                for value, label in Severity.choices
            ],
            empty=str(_("No resolved incidents in this period.")),
        )
        for metric in METRICS
    ]


def _weekly_by_service(rollups, period: Period) -> dict:
    first_monday = period.first - timedelta(days=period.first.weekday())
    weeks = []
    week = first_monday
    while week < add_months(period.last, 1):
        weeks.append(week)
        week += timedelta(days=7)
    counts: dict[str, list[int]] = {}
    for week_index, name, count in (
        rollups.annotate(week=WeekIndex("day", since=first_monday))
        .values("week", "service__name")
        .annotate(count=Sum("incidents"))
        .values_list("week", "service__name", "count")
    ):
        counts.setdefault(name, [0] * len(weeks))[week_index] += count
    ranked = sorted(counts, key=lambda name: (-sum(counts[name]), name))
    series = [(name, counts[name]) for name in ranked[:TOP_SERVICES]]
    if rest := ranked[TOP_SERVICES:]:
        series.append(
            (str(_("Other")), [sum(counts[name][i] for name in rest) for i in range(len(weeks))])
        )
    return charts_lib.bar_chart(
        title=str(_("Incidents per week by service")),
        labels=[w.strftime("%m-%d") for w in weeks],
        series=series,
        stacked=True,
        fmt=_count,
        scale=charts_lib.nice_count_top,
        label_every=_label_step(len(weeks), 8),
        empty=str(_("No incidents in this period.")),
    )


def _count(value: float) -> str:
    return f"{value:g}"


def _label_step(count: int, most: int) -> int:
    """Label every n-th group so that at most `most` labels share the axis."""
    return max(math.ceil(count / most), 1)


CSV_COLUMNS = [
    "grouping",
    "key",
    "incidents",
    "resolved",
    "open",
    "mtta_mean_s",
    "mtta_median_s",
    "mtta_p95_s",
    "mttr_mean_s",
    "mttr_median_s",
    "mttr_p95_s",
    "downtime_s",
    "rto_met",
    "rto_missed",
    "postmortems_required",
    "postmortems_published",
    "postmortem_rate",
    "action_items_open",
    "action_items_overdue",
]


def csv_rows(report: dict):
    yield CSV_COLUMNS
    for grouping, rows in (
        ("total", [report["total"]]),
        ("severity", report["by_severity"]),
        ("month", report["by_month"]),
    ):
        for row in rows:
            yield [
                grouping,
                row["key"],
                row["incidents"],
                row["resolved"],
                row["open"],
                *(_cell(row[m][p]) for m in METRICS for p in ("mean", "median", "p95")),
                _cell(row["downtime_seconds"]),
                row["rto_met"],
                row["rto_missed"],
                row["postmortems_required"],
                row["postmortems_published"],
                _cell(row["postmortem_rate"]),
                row["action_items_open"],
                row["action_items_overdue"],
            ]


def _cell(value) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def period_from(first: date | None, last: date | None, *, now: datetime) -> Period:
    """The chosen months, or the last twelve up to this one."""
    today = timezone.localtime(now, portal_zone()).date()
    if first is None and last is None:
        return Period.last_months(12, today)
    last = (last or today).replace(day=1)
    first = (first or add_months(last, -11)).replace(day=1)
    if first > last:
        first = last
    return Period(first=first, last=last)


def format_seconds(seconds) -> str:
    return "–" if seconds is None else format_duration(seconds)


def table(rows: list[dict]) -> list[list[str]]:
    """The cells of a report table, formatted for people (the CSV and API keep seconds)."""
    cells = []
    for row in rows:
        rate = "" if row["postmortem_rate"] is None else f" ({row['postmortem_rate']:.0%})"
        cells.append(
            [
                row["label"],
                str(row["incidents"]),
                str(row["open"]),
                *(format_seconds(row[m][p]) for m in METRICS for p in ("mean", "median", "p95")),
                format_seconds(row["downtime_seconds"]) if row["resolved"] else "–",
                f"{row['rto_met']} / {row['rto_missed']}",
                f"{row['postmortems_published']} / {row['postmortems_required']}{rate}",
                f"{row['action_items_open']} / {row['action_items_overdue']}",
            ]
        )
    return cells
