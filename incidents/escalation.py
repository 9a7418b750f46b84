"""The escalation engine: when each step of an incident's policy snapshot fires, and whom it pages.

An incident's firings (steps, then repeats of the last step) are a pure function
of its snapshot and `escalation_started_at`. `next_escalation_at` is the cursor:
every firing due before it has been handled, so a sweep handles the firings due
in [next_escalation_at, now] and moves the cursor to the next firing that can
still happen (or NULL).
"""

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from incidents.models import (
    OPEN_STATUSES,
    Contact,
    EscalationPolicy,
    EventKind,
    Incident,
    Notification,
    NotificationChannel,
    Status,
    StepCondition,
    TimelineEvent,
)
from incidents.notify import send_pending

logger = logging.getLogger(__name__)

# Business hours for `business_hours_only` steps, in settings.TIME_ZONE:
# (start, end, ISO weekdays with Monday = 0). Override with settings.PORTAL_BUSINESS_HOURS.
DEFAULT_BUSINESS_HOURS = (time(9, 0), time(18, 0), (0, 1, 2, 3, 4))


def business_hours() -> tuple[time, time, tuple[int, ...]]:
    return getattr(settings, "PORTAL_BUSINESS_HOURS", DEFAULT_BUSINESS_HOURS)


def next_business_start(at: datetime) -> datetime:
    """`at` itself if it falls in business hours, else the next business-hours start."""
    start, end, days = business_hours()
    tz = ZoneInfo(settings.TIME_ZONE)
    local = at.astimezone(tz)
    if local.weekday() in days and start <= local.time() < end:
        return at
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        # Built from the wall clock, not by adding hours, so a DST change in
        # between still lands on 09:00 local time.
        candidate = datetime.combine(day, start, tzinfo=tz)
        if candidate > local:
            return candidate.astimezone(at.tzinfo)
    raise ValueError("PORTAL_BUSINESS_HOURS names no working day")


def snapshot_policy(*, service, severity: str) -> dict:
    """The policy for this service and severity (else the default one) as plain data."""
    policy = (
        EscalationPolicy.objects.filter(Q(service=service) | Q(service__isnull=True), severity=severity)
        .order_by(F("service_id").asc(nulls_last=True))  # the service's own policy wins over the default
        .prefetch_related(Prefetch("steps__contacts", queryset=Contact.objects.only("pk")))
        .first()
    )
    if policy is None:
        return {}
    return {
        "policy": policy.pk,
        "name": policy.name,
        "repeat_every": policy.repeat_every.total_seconds() if policy.repeat_every else None,
        "repeat_limit": policy.repeat_limit,
        "steps": [
            {
                "position": step.position,
                "after": step.after.total_seconds(),
                "tier": step.tier_id,
                "contacts": [c.pk for c in step.contacts.all()],
                "condition": step.condition,
                "business_hours_only": step.business_hours_only,
            }
            for step in sorted(policy.steps.all(), key=lambda s: s.position)
        ],
    }


@dataclass(frozen=True)
class Firing:
    step: int  # index into the snapshot's steps
    repeat: int  # 0 for the step itself, 1…K for repeats of the last step
    at: datetime
    spec: dict


def _due(at: datetime, spec: dict) -> datetime:
    return next_business_start(at) if spec.get("business_hours_only") else at


def firings(snapshot: dict, started_at: datetime) -> list[Firing]:
    steps = snapshot.get("steps") or []
    found = []
    for index, spec in enumerate(steps):
        found.append(Firing(index, 0, _due(started_at + timedelta(seconds=spec["after"]), spec), spec))
    every, limit = snapshot.get("repeat_every"), snapshot.get("repeat_limit") or 0
    if found and every and limit:
        last = found[-1]
        for repeat in range(1, limit + 1):
            found.append(Firing(last.step, repeat, _due(last.at + timedelta(seconds=every * repeat), last.spec),
                                last.spec))
    return found


def holds(condition: str, status: str) -> bool:
    if status not in OPEN_STATUSES:
        return False
    return condition == StepCondition.NOT_RESOLVED or status == Status.TRIGGERED


def first_escalation_at(snapshot: dict, started_at: datetime) -> datetime | None:
    return min((f.at for f in firings(snapshot, started_at)), default=None)


def escalate_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Fire every escalation step that is due, in batches; returns how many incidents were handled."""
    now = now or timezone.now()
    handled = 0
    while True:
        ids = _escalate_batch(Incident.objects.all(), now, batch_size)
        handled += len(ids)
        if ids:
            send_pending(now=now, incident_ids=ids)
        if len(ids) < batch_size:
            return handled


def escalate_incident(*, incident_id: int, now: datetime | None = None) -> bool:
    """Fire the due steps of one incident (the immediate first step after it opens)."""
    now = now or timezone.now()
    ids = _escalate_batch(Incident.objects.filter(pk=incident_id), now, 1)
    if ids:
        send_pending(now=now, incident_ids=ids)
    return bool(ids)


def _escalate_batch(queryset, now: datetime, batch_size: int) -> list[int]:
    if not queryset.filter(next_escalation_at__lte=now).exists():
        # The common case, answered from the partial index without taking
        # SQLite's write lock (transactions there BEGIN IMMEDIATE).
        return []
    # One transaction per batch: the claim, the notification rows, the timeline
    # events and the moved cursor commit together, so a crash re-does the whole
    # batch and a second sweep never sees half of it. Sending happens after.
    with transaction.atomic():
        incidents = _claim(queryset, now, batch_size)
        if not incidents:
            return []
        directory = _Directory.load(incidents)
        notifications, events = [], []
        for incident in incidents:
            _escalate(incident, now, directory, notifications, events)
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
        TimelineEvent.objects.bulk_create(events)
        Incident.objects.bulk_update(incidents, ["next_escalation_at", "escalation_step"])
    return [incident.pk for incident in incidents]


def _claim(queryset, now: datetime, batch_size: int) -> list[Incident]:
    due = queryset.filter(next_escalation_at__lte=now).order_by("next_escalation_at")
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: parallel sweeps take disjoint batches instead of queueing on each other's locks.
        return list(due.select_for_update(skip_locked=True)[:batch_size])
    # SQLite has no row locks. The update re-checks "still due" under the
    # database write lock, so of two sweeps that read the same ids only the
    # first takes them; the token tells each sweep which rows are its own.
    token = uuid.uuid4()
    ids = list(due.values_list("pk", flat=True)[:batch_size])
    if not ids:
        return []
    Incident.objects.filter(pk__in=ids, next_escalation_at__lte=now).update(escalation_claim=token)
    return list(Incident.objects.filter(pk__in=ids, escalation_claim=token).order_by("next_escalation_at"))


class _Directory:
    """Active contacts of every tier and named contact the batch's snapshots mention, with enabled channels."""

    def __init__(self, contacts):
        self.by_id = {c.pk: c for c in contacts}
        self.by_tier = defaultdict(list)
        for contact in contacts:
            if contact.tier_id:
                self.by_tier[contact.tier_id].append(contact)

    @classmethod
    def load(cls, incidents):
        tiers, named = set(), set()
        for incident in incidents:
            for spec in (incident.escalation_snapshot or {}).get("steps", ()):
                if spec.get("tier"):
                    tiers.add(spec["tier"])
                named.update(spec.get("contacts") or ())
        if not tiers and not named:
            return cls([])
        contacts = (
            Contact.objects.filter(Q(tier_id__in=tiers) | Q(pk__in=named), active=True)
            .order_by("name", "pk")
            .prefetch_related(Prefetch("channels", queryset=NotificationChannel.objects.filter(enabled=True)))
        )
        return cls(list(contacts))

    def recipients(self, spec: dict, at: datetime, severity: str) -> list[Contact]:
        found = {}
        for contact in self.by_tier.get(spec.get("tier"), ()):
            found[contact.pk] = contact
        for pk in spec.get("contacts") or ():
            if pk in self.by_id:
                found.setdefault(pk, self.by_id[pk])
        return [c for c in found.values() if c.is_available(at, severity)]


def _escalate(incident: Incident, now: datetime, directory: _Directory, notifications: list, events: list) -> None:
    if incident.status not in OPEN_STATUSES or incident.escalation_started_at is None:
        incident.next_escalation_at = None
        return
    planned = firings(incident.escalation_snapshot or {}, incident.escalation_started_at)
    since = incident.next_escalation_at
    due = {}
    for firing in planned:
        if since <= firing.at <= now and holds(firing.spec["condition"], incident.status):
            # A step overdue several times (the cluster was down) pages once, as its latest repeat.
            due[firing.step] = firing
    for firing in due.values():
        _fire(incident, firing, now, directory, notifications, events)
        incident.escalation_step = max(incident.escalation_step, firing.step)
    incident.next_escalation_at = min(
        (f.at for f in planned if f.at > now and holds(f.spec["condition"], incident.status)), default=None
    )


def _fire(incident, firing: Firing, now, directory, notifications, events) -> None:
    spec = firing.spec
    contacts = directory.recipients(spec, now, incident.severity)
    channels = [(contact, channel) for contact in contacts for channel in contact.channels.all()]
    data = {"round": incident.escalation_round, "step": firing.step, "repeat": firing.repeat,
            "tier": spec.get("tier"), "contacts": [c.pk for c in contacts], "condition": spec["condition"]}
    label = f"Step {firing.step + 1}" + (f" (repeat {firing.repeat})" if firing.repeat else "")
    if not channels:
        events.append(TimelineEvent(incident=incident, at=now, kind=EventKind.ESCALATION_FAILED, data=data,
                                    message=f"{label}: nobody available to page."))
        return
    for contact, channel in channels:
        notifications.append(Notification(
            incident=incident, escalation_round=incident.escalation_round, step=firing.step,
            repeat=firing.repeat, condition=spec["condition"], contact=contact, channel=channel,
            kind=channel.kind, target=channel.target, created_at=now,
        ))
    names = ", ".join(contact.name for contact in contacts)
    events.append(TimelineEvent(incident=incident, at=now, kind=EventKind.ESCALATION, data=data,
                                message=f"{label}: paging {names}."))
