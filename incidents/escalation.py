"""The escalation engine: when each step of an incident's policy snapshot fires, and whom it pages.

An incident's firings (steps, then repeats of the last step) are a pure function
of its snapshot and `escalation_started_at`. `next_escalation_at` is the cursor:
every firing due before it has been handled, so a sweep handles the firings due
in [next_escalation_at, now] and moves the cursor to the next firing that can
still happen (or NULL).
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Prefetch, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from core import bulk
from core.holidays import WorkCalendar
from incidents.models import (
    OPEN_STATUSES,
    Contact,
    EscalationPolicy,
    EventKind,
    Incident,
    Notification,
    NotificationChannel,
    NotificationStatus,
    Status,
    StepCondition,
    TimelineEvent,
)
from incidents.notify import send_pending
from incidents.targets import resolve_schedules, schedules_of_steps

logger = logging.getLogger(__name__)

# Business hours for `business_hours_only` steps, in settings.TIME_ZONE:
# (start, end, ISO weekdays with Monday = 0). Override with settings.PORTAL_BUSINESS_HOURS.
DEFAULT_BUSINESS_HOURS = (time(9, 0), time(18, 0), (0, 1, 2, 3, 4))


def business_hours() -> tuple[time, time, tuple[int, ...]]:
    return getattr(settings, "PORTAL_BUSINESS_HOURS", DEFAULT_BUSINESS_HOURS)


def next_business_start(at: datetime, calendar: WorkCalendar | None = None) -> datetime:
    """`at` itself if it falls in business hours, else the next business-hours start.
    Public holidays and company days (core.holidays) are not business days."""
    start, end, days = business_hours()
    calendar = calendar or WorkCalendar.load()
    tz = ZoneInfo(settings.TIME_ZONE)
    local = at.astimezone(tz)
    if calendar.is_working_day(local.date(), days) and start <= local.time() < end:
        return at
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    # Built from the wall clock, not by adding hours, so a DST change in
    # between still lands on 09:00 local time.
    candidate = datetime.combine(calendar.next_working_day(day, days), start, tzinfo=tz)
    return candidate.astimezone(at.tzinfo)


def snapshot_policy(*, service, severity: str) -> dict:
    """The policy for this service and severity (else the default one) as plain data."""
    policy = (
        EscalationPolicy.objects.filter(
            Q(service=service) | Q(service__isnull=True), severity=severity
        )
        # the service's own policy wins over the default
        .order_by(F("service_id").asc(nulls_last=True))
        .prefetch_related(Prefetch("steps__contacts", queryset=Contact.objects.only("pk")))
        .first()
    )
    if policy is None:
        return {}
    steps = sorted(policy.steps.all(), key=lambda s: s.position)
    schedules = schedules_of_steps(step.pk for step in steps)
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
                # On-call schedules (see incidents.targets): who they page is resolved when the step
                # fires.
                "schedules": schedules.get(step.pk, []),
                "condition": step.condition,
                "business_hours_only": step.business_hours_only,
            }
            for step in steps
        ],
    }


@dataclass(frozen=True)
class Firing:
    step: int  # index into the snapshot's steps
    repeat: int  # 0 for the step itself, 1…K for repeats of the last step
    at: datetime
    spec: dict


def _due(at: datetime, spec: dict, calendar: WorkCalendar | None) -> datetime:
    return next_business_start(at, calendar) if spec.get("business_hours_only") else at


def firings(
    snapshot: dict, started_at: datetime, calendar: WorkCalendar | None = None
) -> list[Firing]:
    steps = snapshot.get("steps") or []
    if calendar is None and any(spec.get("business_hours_only") for spec in steps):
        calendar = WorkCalendar.load()
    found = []
    for index, spec in enumerate(steps):
        found.append(
            Firing(
                index, 0, _due(started_at + timedelta(seconds=spec["after"]), spec, calendar), spec
            )
        )
    every, limit = snapshot.get("repeat_every"), snapshot.get("repeat_limit") or 0
    if found and every and limit:
        last = found[-1]
        for repeat in range(1, limit + 1):
            found.append(
                Firing(
                    last.step,
                    repeat,
                    _due(last.at + timedelta(seconds=every * repeat), last.spec, calendar),
                    last.spec,
                )
            )
    return found


def holds(condition: str, status: str) -> bool:
    if status not in OPEN_STATUSES:
        return False
    return condition == StepCondition.NOT_RESOLVED or status == Status.TRIGGERED


def first_escalation_at(snapshot: dict, started_at: datetime) -> datetime | None:
    return min((f.at for f in firings(snapshot, started_at)), default=None)


# Incidents per send_notifications task: a minute with thousands of pages is shared by the workers.
DELIVERY_CHUNK = 1000


def escalate_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Fire every escalation step that is due, in batches; returns how many incidents were handled.

    The sweep only writes: the notification rows (the outbox) of the batches
    that committed are handed to `send_notifications` tasks once the sweep is
    done, so a minute with thousands of pages is not held up by mail servers
    and webhooks. The minute retry job sends whatever a lost task left pending.
    """
    now = now or timezone.now()
    handled, committed = 0, []
    while True:
        ids = _escalate_batch(Incident.objects.all(), now, batch_size, delivery=committed)
        handled += len(ids)
        if len(ids) < batch_size:
            # After the batches' own callbacks (in order), also when an outer transaction delays
            # them all.
            transaction.on_commit(partial(_enqueue_delivery, committed))
            return handled


# The pager's longest sleep: how late a step can be at most (and how soon a new incident is seen)
# when nothing else woke it. Idle, a round is one query on the partial index of due incidents.
PAGER_POLL = 1.0


def page_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """One round of the pager: fire every due step and send its pages here, not through a queued
    task (the default cluster's workers may all be busy with probe ticks). The same claim as
    escalate_due's, so the minute sweep, escalate_incident and a second pager never page twice."""
    now = now or timezone.now()
    handled = 0
    while True:
        ids = _escalate_batch(Incident.objects.all(), now, batch_size, delivery=None)
        handled += len(ids)
        if ids:
            send_pending(now=now, incident_ids=ids)
        if len(ids) < batch_size:
            return handled


def seconds_to_next_step(*, now: datetime, poll: float = PAGER_POLL) -> float:
    """How long the pager may sleep: until the next step is due, at most `poll`."""
    upcoming = (
        Incident.objects.filter(next_escalation_at__isnull=False)
        .order_by("next_escalation_at")
        .values_list("next_escalation_at", flat=True)
        .first()
    )
    if upcoming is None:
        return poll
    return min(max((upcoming - now).total_seconds(), 0.0), poll)


def run_pager(*, stopping, sleep, poll: float = PAGER_POLL, tidy=close_old_connections) -> None:
    """`manage.py page`: a process of its own (started by `serve`) that wakes when the next step
    is due, fires it and sends its pages, so a step due at T is paged within about a second of T
    instead of at the next minute sweep. A failing round (the database restarting) is logged and
    tried again after `poll`."""
    while not stopping():
        try:
            page_due()
            pause = seconds_to_next_step(now=timezone.now(), poll=poll)
        except Exception:
            logger.exception("paging round failed")
            pause = poll
        finally:
            tidy()  # a long-lived process: drop a connection the database closed meanwhile
        sleep(pause)


def escalate_incident(*, incident_id: int, now: datetime | None = None) -> bool:
    """Fire the due steps of one incident (the immediate first step after it opens).

    This already runs in a worker, for one incident: it sends at once rather
    than through another task, so the first page goes out without a second hop.
    """
    now = now or timezone.now()
    ids = _escalate_batch(Incident.objects.filter(pk=incident_id), now, 1, delivery=None)
    if ids:
        send_pending(now=now, incident_ids=ids)
    return bool(ids)


def escalate_after_failed_step(
    *,
    incident_id: int,
    escalation_round: int,
    step: int,
    repeat: int,
    failures: list[dict],
    now: datetime,
) -> bool:
    """Every page of one firing of a step failed for good: say so on the timeline (in red) and page
    the next step now rather than at its time. True when the next step was paged (its rows are
    pending).

    Once per firing: the check for the event and its insert share the incident's lock (a row lock on
    PostgreSQL, the write lock on SQLite), so two senders recording the last failures at once page
    once.
    """
    with transaction.atomic():
        locked = Incident.objects.filter(pk=incident_id, escalation_round=escalation_round)
        if connection.features.has_select_for_update:
            locked = locked.select_for_update()
        row = locked.values_list(
            "pk",
            "status",
            "severity",
            "escalation_snapshot",
            "escalation_started_at",
            "escalation_round",
            "escalation_step",
            "next_escalation_at",
        ).first()
        if row is None:
            return False
        incident = _Claimed(*row)
        if TimelineEvent.objects.filter(
            incident_id=incident_id,
            kind=EventKind.ESCALATION_FAILED,
            data__reason="deliveries_failed",
            data__round=escalation_round,
            data__step=step,
            data__repeat=repeat,
        ).exists():
            return False
        planned = firings(incident.escalation_snapshot or {}, incident.escalation_started_at or now)
        following = next((f for f in planned if f.step == step + 1 and f.repeat == 0), None)
        page_next = (
            following is not None
            and incident.escalation_step < following.step
            and holds(following.spec["condition"], incident.status)
        )
        TimelineEvent.objects.create(
            incident_id=incident_id,
            at=now,
            kind=EventKind.ESCALATION_FAILED,  # incidents.timeline says it
            data={
                "variant": "deliveries_failed",
                "reason": "deliveries_failed",
                "round": escalation_round,
                "step": step,
                "repeat": repeat,
                "failures": failures,
                "next_step": following.step if page_next else None,
            },
        )
        if not page_next:
            return False
        directory = _Directory.load([incident], now)
        notifications, events = [], []
        _fire(incident, replace(following, at=now), directory, notifications, events)
        incident.escalation_step = following.step
        # The step fired early is not fired again at its time; what comes after it still is.
        incident.next_escalation_at = min(
            (
                f.at
                for f in planned
                if f.at > now
                and not (f.repeat == 0 and f.step <= following.step)
                and holds(f.spec["condition"], incident.status)
            ),
            default=None,
        )
        _write([incident], notifications, events)
    return True


def _escalate_batch(
    queryset, now: datetime, batch_size: int, *, delivery: list[int] | None
) -> list[int]:
    if not queryset.filter(next_escalation_at__lte=now).exists():
        # The common case, answered from the partial index without taking
        # SQLite's write lock (transactions there BEGIN IMMEDIATE).
        return []
    # One transaction per batch: the claim, the notification rows, the timeline
    # events and the moved cursor commit together, so a crash re-does the whole
    # batch and a second sweep never sees half of it. Sending happens after,
    # in a task queued once this commits (or, for one new incident, right here).
    with transaction.atomic():
        incidents = _claim(queryset, now, batch_size)
        if not incidents:
            return []
        directory = _Directory.load(incidents, now)
        notifications, events = [], []
        for incident in incidents:
            _escalate(incident, now, directory, notifications, events)
        _write(incidents, notifications, events)
        ids = [incident.pk for incident in incidents]
        if delivery is not None and notifications:
            transaction.on_commit(partial(delivery.extend, ids))
    return ids


def _enqueue_delivery(incident_ids: list[int]) -> None:
    """One task per DELIVERY_CHUNK incidents, through one broker, not one per batch: django-q2 sets
    up a broker for each task, and its ORM broker closes the database connection before each (on
    SQLite, the last one to close checkpoints the WAL)."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    if not incident_ids:
        return
    try:
        broker = get_broker()
        for start in range(0, len(incident_ids), DELIVERY_CHUNK):
            async_task(
                "incidents.tasks.send_notifications",
                incident_ids[start : start + DELIVERY_CHUNK],
                broker=broker,
            )
    except Exception:
        # the rows are committed: the minute retry job sends them if the broker is down
        logger.exception(
            "could not enqueue the delivery of %s incidents' notifications", len(incident_ids)
        )


# The columns the sweep writes; every other column is nullable and starts empty.
NOTIFICATION_COLUMNS = (
    "incident",
    "escalation_round",
    "step",
    "repeat",
    "condition",
    "contact",
    "channel",
    "kind",
    "target",
    "status",
    "attempts",
    "last_error",
    "created_at",
)
EVENT_COLUMNS = ("incident", "at", "kind", "message", "data")


def _write(incidents: "list[_Claimed]", notifications: list[tuple], events: list[tuple]) -> None:
    """Write a batch's notifications, timeline events and moved cursors in a fixed number of
    statements."""
    bulk.insert(Notification, NOTIFICATION_COLUMNS, notifications, ignore_conflicts=True)
    bulk.insert(TimelineEvent, EVENT_COLUMNS, events)
    bulk.update(
        Incident,
        ("id", "next_escalation_at", "escalation_step"),
        [(i.pk, i.next_escalation_at, i.escalation_step) for i in incidents],
    )


@dataclass(slots=True)
class _Claimed:
    """What deciding and firing read of a due incident, and the two columns they move: not a model
    instance (signals, descriptors) nor the whole row, which would cost more than the decisions."""

    pk: int
    status: str
    severity: str
    escalation_snapshot: dict
    escalation_started_at: datetime | None
    escalation_round: int
    escalation_step: int
    next_escalation_at: datetime | None


def _claim(queryset, now: datetime, batch_size: int) -> list[_Claimed]:
    due = queryset.filter(next_escalation_at__lte=now).order_by("next_escalation_at")
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: parallel sweeps take disjoint batches instead of queueing on each other's
        # locks.
        due = due.select_for_update(skip_locked=True)
    # SQLite has no row locks, but the portal opens every transaction with
    # BEGIN IMMEDIATE (portal.env.sqlite_config): this batch holds the database
    # write lock from this first read until it commits its moved cursors, so a
    # second sweep reads the due rows only afterwards and finds them handled.
    rows = due.values_list(
        "pk",
        "status",
        "severity",
        Cast("escalation_snapshot", TextField()),
        "escalation_started_at",
        "escalation_round",
        "escalation_step",
        "next_escalation_at",
    )
    # The snapshot read as text and decoded once per distinct text: incidents of one policy share
    # it.
    snapshots = {}
    claimed = []
    for pk, status, severity, text, started_at, escalation_round, step, next_at in rows[
        :batch_size
    ]:
        if text not in snapshots:
            snapshots[text] = json.loads(text) if text else {}
        claimed.append(
            _Claimed(
                pk, status, severity, snapshots[text], started_at, escalation_round, step, next_at
            )
        )
    return claimed


class _Directory:
    """Active contacts of every tier, named contact and on-call person the batch's snapshots
    mention, with enabled channels.

    Who is reachable depends only on the step and the severity at the sweep's
    `now`, so it is worked out once per (step, severity), not once per incident.
    """

    def __init__(
        self,
        contacts,
        now: datetime,
        *,
        on_call: dict[int, int | None] | None = None,
        calendar: WorkCalendar | None = None,
    ):
        self.now = now
        self.calendar = calendar or WorkCalendar()
        # Schedule id → the contact on call at `now` (or None), as incidents.targets resolved it.
        self.on_call = on_call or {}
        # The sweep's time, for every row the batch writes.
        self.stamp = now
        self.by_id = {c.pk: c for c in contacts}
        self.by_tier = defaultdict(list)
        for contact in contacts:
            if contact.tier_id:
                self.by_tier[contact.tier_id].append(contact)
        self._pages, self._events = {}, {}

    @classmethod
    def load(cls, incidents, now: datetime):
        tiers, named, schedules = set(), set(), set()
        for incident in incidents:
            for spec in (incident.escalation_snapshot or {}).get("steps", ()):
                if spec.get("tier"):
                    tiers.add(spec["tier"])
                named.update(spec.get("contacts") or ())
                schedules.update(spec.get("schedules") or ())
        on_call = resolve_schedules(schedules, now)
        named.update(pk for pk in on_call.values() if pk is not None)
        calendar = WorkCalendar.load()
        if not tiers and not named:
            return cls([], now, on_call=on_call, calendar=calendar)
        contacts = (
            Contact.objects.filter(Q(tier_id__in=tiers) | Q(pk__in=named), active=True)
            .order_by("name", "pk")
            .prefetch_related(
                Prefetch("channels", queryset=NotificationChannel.objects.filter(enabled=True))
            )
        )
        return cls(list(contacts), now, on_call=on_call, calendar=calendar)

    @staticmethod
    def _key(spec: dict) -> tuple:
        return (
            spec.get("tier"),
            tuple(spec.get("contacts") or ()),
            tuple(spec.get("schedules") or ()),
        )

    def resolved(self, spec: dict) -> dict[int, int | None]:
        """The step's schedules and who is on call for each now."""
        return {pk: self.on_call.get(pk) for pk in spec.get("schedules") or ()}

    def recipients(self, spec: dict, severity: str) -> list[Contact]:
        found = {}
        for contact in self.by_tier.get(spec.get("tier"), ()):
            found[contact.pk] = contact
        for pk in spec.get("contacts") or ():
            if pk in self.by_id:
                found.setdefault(pk, self.by_id[pk])
        available = [c for c in found.values() if c.is_available(self.now, severity, self.calendar)]
        # Whoever is on call is paged whatever their usual hours: being on call is their
        # availability.
        for pk in self.resolved(spec).values():
            if pk in self.by_id and all(c.pk != pk for c in available):
                available.append(self.by_id[pk])
        return available

    def pages(
        self, spec: dict, severity: str
    ) -> tuple[list[Contact], list[tuple[Contact, NotificationChannel]]]:
        """The contacts a step pages for this severity now, and their (contact, channel) pairs."""
        key = (*self._key(spec), severity)
        if key not in self._pages:
            contacts = self.recipients(spec, severity)
            self._pages[key] = (
                contacts,
                [(c, channel) for c in contacts for channel in c.channels.all()],
            )
        return self._pages[key]

    def event(self, spec: dict, severity: str, escalation_round: int, firing: Firing) -> tuple:
        """(kind, message, data) of a firing's timeline event. They depend on the
        step, the severity and the round, not on the incident: one per batch, not one per
        incident."""
        key = (
            *self._key(spec),
            severity,
            escalation_round,
            firing.step,
            firing.repeat,
            spec["condition"],
        )
        if key not in self._events:
            contacts, channels = self.pages(spec, severity)
            data = {
                "round": escalation_round,
                "step": firing.step,
                "repeat": firing.repeat,
                "tier": spec.get("tier"),
                "contacts": [c.pk for c in contacts],
                "condition": spec["condition"],
                "names": [c.name for c in contacts],
            }
            if spec.get("schedules"):
                # Who each schedule resolved to when the step fired (JSON keys are text).
                data["on_call"] = {str(pk): contact for pk, contact in self.resolved(spec).items()}
            # The sentence is incidents.timeline's, in the reader's language: no message.
            kind = EventKind.ESCALATION if channels else EventKind.ESCALATION_FAILED
            self._events[key] = (kind.value, "", data)
        return self._events[key]


def _escalate(
    incident: _Claimed, now: datetime, directory: _Directory, notifications: list, events: list
) -> None:
    if incident.status not in OPEN_STATUSES or incident.escalation_started_at is None:
        incident.next_escalation_at = None
        return
    planned = firings(
        incident.escalation_snapshot or {}, incident.escalation_started_at, directory.calendar
    )
    since = incident.next_escalation_at
    due = {}
    for firing in planned:
        if since <= firing.at <= now and holds(firing.spec["condition"], incident.status):
            # A step overdue several times (the cluster was down) pages once, as its latest repeat.
            due[firing.step] = firing
    for firing in due.values():
        _fire(incident, firing, directory, notifications, events)
        incident.escalation_step = max(incident.escalation_step, firing.step)
    incident.next_escalation_at = min(
        (f.at for f in planned if f.at > now and holds(f.spec["condition"], incident.status)),
        default=None,
    )


def _fire(
    incident, firing: Firing, directory: _Directory, notifications: list, events: list
) -> None:
    """Append the firing's notification rows and timeline event, in the order of
    NOTIFICATION_COLUMNS and EVENT_COLUMNS."""
    spec = firing.spec
    _contacts, channels = directory.pages(spec, incident.severity)
    at = directory.stamp
    events.append(
        (
            incident.pk,
            at,
            *directory.event(spec, incident.severity, incident.escalation_round, firing),
        )
    )
    for contact, channel in channels:
        notifications.append(
            (
                incident.pk,
                incident.escalation_round,
                firing.step,
                firing.repeat,
                spec["condition"],
                contact.pk,
                channel.pk,
                channel.kind,
                channel.target,
                NotificationStatus.PENDING.value,
                0,
                "",
                at,
            )
        )
