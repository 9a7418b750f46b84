"""Per-day rollups of the incidents' metrics, per service and severity (issue 22).

Reports and the dashboard read `IncidentRollup` rows instead of every incident of
the period: a year of reports reads at most days × services × severities rows,
whatever the number of incidents. A rollup is never adjusted by increments: the
services recompute the rows an incident belongs to (before and after a change),
from the incidents themselves, in the transaction that changes it, holding the
row's lock so two changes to one day never overwrite each other. So a rollup is
always what the direct computation would give, re-opened incidents and edited
impact starts included. `manage.py rebuild_rollups` recomputes them all (after a
bulk import, or a change of PORTAL_TIME_ZONE, which moves the days' boundaries).

Reports of whole months read `IncidentMonthRollup`, the day rows of a month merged, which is
recomputed from its day rows whenever one of them changes (after them: every change locks day
rows first, then month rows, each in order, so two changes never wait for each other in a
circle).
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from itertools import chain

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents import reportcache
from incidents.models import Incident, IncidentMonthRollup, IncidentRollup, portal_zone

Key = tuple[date, int, str]  # (day in the portal's time zone, service id, severity)
MICROSECOND = timedelta(microseconds=1)
FIELDS = ("created_at", "impact_started_at", "acknowledged_at", "resolved_at")


def key_of(incident: Incident) -> Key:
    return day_of(incident.created_at), incident.service_id, incident.severity


def day_of(moment: datetime) -> date:
    return timezone.localtime(moment, portal_zone()).date()


def month_key(key: Key) -> Key:
    day, service_id, severity = key
    return day.replace(day=1), service_id, severity


def day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = portal_zone()
    return datetime.combine(day, time(0), tzinfo=zone), datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=zone
    )


def durations(
    created_at, impact_started_at, acknowledged_at, resolved_at
) -> tuple[int, int, int] | None:
    """(MTTA, MTTR, downtime) of one incident in microseconds; None while it is not resolved."""
    if resolved_at is None:
        return None
    return (
        ((acknowledged_at or resolved_at) - created_at) // MICROSECOND,
        (resolved_at - created_at) // MICROSECOND,
        (resolved_at - (impact_started_at or created_at)) // MICROSECOND,
    )


def _fill(row: IncidentRollup, incidents: Iterable[tuple]) -> IncidentRollup:
    row.incidents = 0
    tta, ttr, downtime = [], [], []
    for values in incidents:
        row.incidents += 1
        found = durations(*values)
        if found:
            tta.append(found[0])
            ttr.append(found[1])
            downtime.append(found[2])
    row.tta_us, row.ttr_us, row.downtime_us = sorted(tta), sorted(ttr), sorted(downtime)
    return row


def refresh(keys: Iterable[Key]) -> None:
    """Recompute the rollups of these (day, service, severity) keys from their incidents, then
    their months'."""
    keys = sorted(set(keys))
    for day, service_id, severity in keys:
        with transaction.atomic():
            row, _created = IncidentRollup.objects.get_or_create(
                day=day, service_id=service_id, severity=severity
            )
            # Held until the caller's transaction ends: a second change to the same day waits, then
            # reads the incidents as the first one left them (PostgreSQL; SQLite writes one at a
            # time).
            row = IncidentRollup.objects.select_for_update().get(pk=row.pk)
            start, end = day_bounds(day)
            _fill(
                row,
                Incident.objects.filter(
                    service_id=service_id,
                    severity=severity,
                    created_at__gte=start,
                    created_at__lt=end,
                )
                .order_by()
                .values_list(*FIELDS),
            )
            if row.incidents:
                row.save()
            else:
                row.delete()
    refresh_months(month_key(key) for key in keys)


def refresh_months(keys: Iterable[Key]) -> None:
    """Recompute the month rollups of these (first day of the month, service, severity) keys from
    their day rows."""
    for month, service_id, severity in sorted(set(keys)):
        with transaction.atomic():
            row, _created = IncidentMonthRollup.objects.get_or_create(
                month=month, service_id=service_id, severity=severity
            )
            row = IncidentMonthRollup.objects.select_for_update().get(pk=row.pk)
            days = IncidentRollup.objects.filter(
                day__gte=month,
                day__lt=(month + timedelta(days=31)).replace(day=1),
                service_id=service_id,
                severity=severity,
            ).order_by()
            _merge(row, days.values_list("incidents", "tta_us", "ttr_us", "downtime_us"))
            if row.incidents:
                row.save()
            else:
                row.delete()
    # After the writes: outside a transaction on_commit runs at once, and a reader in between
    # must not cache the old rows under the new revision (this also covers refresh's day rows).
    reportcache.changed()


def _merge(row, days: Iterable[tuple]):
    """A month row from its days' (incidents, tta_us, ttr_us, downtime_us)."""
    counts, tta, ttr, downtime = [], [], [], []
    for incidents, *lists in days:
        counts.append(incidents)
        for merged, found in zip((tta, ttr, downtime), lists, strict=True):
            merged.append(found)
    row.incidents = sum(counts)
    row.tta_us, row.ttr_us, row.downtime_us = (
        sorted(chain.from_iterable(found)) for found in (tta, ttr, downtime)
    )
    return row


def add_new(incident: Incident) -> None:
    """Count a new, unresolved incident in its rollup, in the transaction that inserted it. It adds
    no duration, so the row's count plus one is what a recompute would give: whoever changes the
    row next waits for this transaction and then reads the incident (without it, opening the n-th
    incident of a day read all n, and an alert storm of 1 000 held SQLite's lock for seconds)."""
    if incident.resolved_at is not None:
        refresh([key_of(incident)])
        return
    day, service_id, severity = key_of(incident)
    counted = IncidentRollup.objects.filter(
        day=day, service_id=service_id, severity=severity
    ).update(incidents=F("incidents") + 1)
    if not counted:  # the day's first: its row is created from the incidents
        refresh([(day, service_id, severity)])
        return
    month = day.replace(day=1)
    counted = IncidentMonthRollup.objects.filter(
        month=month, service_id=service_id, severity=severity
    ).update(incidents=F("incidents") + 1)
    if not counted:  # a day row without its month's (rollups written before the months were)
        refresh_months([(month, service_id, severity)])
    reportcache.changed()


def refresh_incident(incident_id: int, *, before: Key | None = None) -> None:
    """Recompute the rollup an incident is in now, and the one it was in `before` a change."""
    stored = (
        Incident.objects.filter(pk=incident_id)
        .values("created_at", "service_id", "severity")
        .first()
    )
    keys = [before] if before else []
    if stored:
        keys.append((day_of(stored["created_at"]), stored["service_id"], stored["severity"]))
    refresh(keys)


def rebuild(
    *,
    incident_model=Incident,
    rollup_model=IncidentRollup,
    month_model=None,
    batch: int = 5000,
) -> int:
    """Every rollup again from every incident, and the month rows from them (the models are
    parameters for the data migrations; the one that built the day rows, 0022, came before the
    month rows and names no month model). Returns the number of day rows."""
    if month_model is None and rollup_model is IncidentRollup:
        month_model = IncidentMonthRollup
    zone = portal_zone()
    rows: dict[Key, list[tuple]] = {}
    for created_at, service_id, severity, *times in (
        incident_model.objects.order_by()
        .values_list("created_at", "service_id", "severity", *FIELDS[1:])
        .iterator(chunk_size=batch)
    ):
        key = (timezone.localtime(created_at, zone).date(), service_id, severity)
        rows.setdefault(key, []).append((created_at, *times))
    with transaction.atomic():
        rollup_model.objects.all().delete()
        rollup_model.objects.bulk_create(
            (
                _fill(rollup_model(day=day, service_id=service_id, severity=severity), incidents)
                for (day, service_id, severity), incidents in rows.items()
            ),
            batch_size=1000,
        )
        if month_model is not None:
            rebuild_months(rollup_model=rollup_model, month_model=month_model, batch=batch)
    reportcache.changed()
    return len(rows)


def rebuild_months(*, rollup_model=IncidentRollup, month_model=IncidentMonthRollup, batch=5000):
    """Every month row again from the day rows."""
    months: dict[Key, list[tuple]] = {}
    for day, service_id, severity, *values in (
        rollup_model.objects.order_by()
        .values_list(
            "day", "service_id", "severity", "incidents", "tta_us", "ttr_us", "downtime_us"
        )
        .iterator(chunk_size=batch)
    ):
        months.setdefault(month_key((day, service_id, severity)), []).append(values)
    with transaction.atomic():
        month_model.objects.all().delete()
        month_model.objects.bulk_create(
            (
                _merge(month_model(month=month, service_id=service_id, severity=severity), days)
                for (month, service_id, severity), days in months.items()
            ),
            batch_size=1000,
        )
    reportcache.changed()
    return len(months)
