"""The one door other apps use to work with incidents.

Every function is keyword-only, runs in one transaction, writes its timeline
event in that transaction, and raises `core.errors.DomainError` when a rule
forbids what was asked (`conflict=True` when the incident changed meanwhile).
"""

import functools
import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.history import record_change
from core.languages import language_of
from incidents import outbox, rollups, routes, waker
from incidents.escalation import (
    escalate_due,
    escalate_incident,
    firings,
    first_escalation_at,
    snapshot_policy,
)
from incidents.models import (
    ALLOWED_FROM,
    DECLARABLE_SOURCES,
    OPEN_STATUSES,
    RESERVED_DEDUP_PREFIXES,
    EventKind,
    Incident,
    Notification,
    NotificationStatus,
    Purpose,
    RouteEvent,
    Scope,
    Service,
    Severity,
    Source,
    Status,
    StepCondition,
    TimelineEvent,
)
from incidents.notify import resolution_message, retry_notifications, send_pending

__all__ = [
    "acknowledge",
    "add_event",
    "add_note",
    "close",
    "edit_incident",
    "emit_event",
    "escalate_due",
    "escalate_incident",
    "mitigate",
    "open_incident",
    "queue_message",
    "reopen",
    "resolve",
    "retrigger",
    "retry_notifications",
    "send_pending",
]

logger = logging.getLogger(__name__)


def open_incident(
    *,
    service: Service,
    title: str,
    severity: str,
    source: str = Source.MANUAL,
    dedup_key: str = "",
    description: str = "",
    category: str = "",
    scope: str = Scope.PARTIAL,
    by=None,
    impact_started_at: datetime | None = None,
    detected_at: datetime | None = None,
    now: datetime | None = None,
    data: dict | None = None,
) -> tuple[Incident, bool]:
    """Open an incident and start its escalation; returns (incident, created).

    With a non-empty `dedup_key` and an open incident already holding it, that
    incident gets a `duplicate` timeline event and is returned with created=False.
    `data` (JSON) goes with the `created` or `duplicate` event: what the caller needs to read back
    later about why it alerted (a backup problem's kind).
    """
    now = now or timezone.now()
    for name, value, choices in (
        ("severity", severity, Severity),
        ("source", source, Source),
        ("scope", scope, Scope),
    ):
        if value not in choices.values:
            raise DomainError(
                _("Unknown %(name)s %(value)r.") % {"name": name, "value": value}, field=name
            )
    if not (title or "").strip():
        raise DomainError(_("An incident needs a title."), field="title")
    load_urls()
    with transaction.atomic():
        existing = _open_with_key(dedup_key)
        if existing is None:
            try:
                # A savepoint: if a parallel call inserted the same key first, the
                # partial unique constraint refuses ours and we join theirs.
                with transaction.atomic():
                    incident = _create_incident(
                        service=service,
                        title=title,
                        severity=severity,
                        source=source,
                        dedup_key=dedup_key,
                        description=description,
                        category=category,
                        scope=scope,
                        by=by,
                        impact_started_at=impact_started_at,
                        detected_at=detected_at,
                        now=now,
                        data=data,
                    )
                return incident, True
            except IntegrityError:
                existing = _open_with_key(dedup_key)
                if existing is None:
                    raise
        _record(
            existing,
            EventKind.DUPLICATE,
            by,
            now,
            "",
            {**(data or {}), "source": source, "title": title, "severity": severity},
        )
        return existing, False


def declare_incident(
    *, by, source: str = Source.API, dedup_key: str = "", **fields
) -> tuple[Incident, bool]:
    """A person opens (or joins) an incident, from the page or the API. The portal's own
    sources and dedup namespaces are refused: a person's incident holding `probe:10` would
    swallow that probe's real alert as a repeat, and page nobody."""
    errors = {}
    if source not in DECLARABLE_SOURCES:
        errors["source"] = ValidationError(
            _(
                "Only %(sources)s may be named as the source; the others are the portal's own "
                "alerts."
            )
            % {"sources": ", ".join(DECLARABLE_SOURCES)},
            code="reserved",
        )
    if dedup_key.startswith(RESERVED_DEDUP_PREFIXES):
        errors["dedup_key"] = ValidationError(
            _("Keys starting with %(prefixes)s are reserved for the portal's own alerts.")
            % {"prefixes": ", ".join(RESERVED_DEDUP_PREFIXES)},
            code="reserved",
        )
    if errors:
        raise ValidationError(errors)
    return open_incident(by=by, source=source, dedup_key=dedup_key, **fields)


def acknowledge(*, incident: Incident, by) -> Incident:
    """Acknowledge: pending `not_acknowledged` steps and notifications stop; `not_resolved` ones
    go on."""
    now = timezone.now()
    fresh = _current(incident)
    changes = {}
    if fresh["acknowledged_at"] is None:
        changes = {"acknowledged_at": now, "acknowledged_by": _user(by)}
    _transition(
        incident,
        "acknowledge",
        Status.ACKNOWLEDGED,
        by,
        now,
        changes,
        extra_filter={"acknowledged_at__isnull": fresh["acknowledged_at"] is None},
        fresh=fresh,
    )
    return incident


def acknowledge_by_link(*, incident: Incident, contact, link: int) -> Incident:
    """Acknowledge as `contact`, from the one-click link of notification `link`
    (incidents.acklinks): the timeline names the contact (and its login user, when it has one). A
    link acknowledges once."""
    if TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.STATUS, data__link=link
    ).exists():
        raise DomainError(_("This link has been used already."), code="link_used", conflict=True)
    now = timezone.now()
    fresh = _current(incident)
    by = contact.user
    changes = (
        {"acknowledged_at": now, "acknowledged_by": _user(by)}
        if fresh["acknowledged_at"] is None
        else {}
    )
    _transition(
        incident,
        "acknowledge",
        Status.ACKNOWLEDGED,
        by,
        now,
        changes,
        extra_filter={"acknowledged_at__isnull": fresh["acknowledged_at"] is None},
        fresh=fresh,
        contact=contact,
        data={"link": link, "variant": "link", "contact_name": contact.name},
    )
    return incident


def mitigate(*, incident: Incident, by) -> Incident:
    """Mark the impact mitigated; like an ack, it stops `not_acknowledged` steps."""
    now = timezone.now()
    _transition(incident, "mitigate", Status.MITIGATED, by, now, {"mitigated_at": now})
    return incident


def resolve(
    *, incident: Incident, by, reason: str = "", data: dict | None = None, summary: str = ""
) -> Incident:
    """Resolve: every escalation step and pending notification stops. `reason` is free text for the
    timeline; when no person resolves it, `data` names why for incidents.timeline to say it in the
    reader's language (`{"variant": "integration", "integration_name": "prom"}`). `summary` is what
    fixed it, kept on the incident and in the timeline event's data."""
    now = timezone.now()
    summary = summary.strip()
    if summary:
        data = {**(data or {}), "summary": summary}
    with transaction.atomic():
        _transition(
            incident,
            "resolve",
            Status.RESOLVED,
            by,
            now,
            {
                "resolved_at": now,
                "resolved_by": _user(by),
                "next_escalation_at": None,
                "resolution_summary": summary,
            },
            message=reason,
            data=data,
        )
        _end_round(incident, by=by, reason=reason, now=now)
    return incident


def _end_round(incident: Incident, *, by, reason: str, now: datetime) -> None:
    """The escalation round is over: a summary on the timeline (who was paged when, who
    acknowledged), and a resolution notice queued in the outbox for every channel a page of this
    round reached."""
    pages = list(
        Notification.objects.filter(
            incident=incident, escalation_round=incident.escalation_round, notice__isnull=True
        )
        .exclude(status=NotificationStatus.CANCELLED)
        .select_related("contact", "channel__contact__user__preference")
        .order_by("created_at", "pk")
    )
    first_pages = {}  # contact id → the first page of the round to them
    for page in pages:
        if page.contact_id is not None:
            first_pages.setdefault(page.contact_id, page)
    paged = {
        pk: {
            "contact": pk,
            "name": page.contact.name,
            "step": page.step + 1,
            "at": page.created_at.isoformat(),
        }
        for pk, page in first_pages.items()
    }
    acknowledged = (
        TimelineEvent.objects.filter(
            incident=incident,
            kind=EventKind.STATUS,
            data__action="acknowledge",
            at__gte=incident.escalation_started_at or incident.created_at,
        )
        .select_related("actor_user", "actor_contact")
        .order_by("at", "id")
        .first()
    )
    summary = {
        "round": incident.escalation_round,
        "paged": list(paged.values()),
        "sent": sum(1 for page in pages if page.status == NotificationStatus.SENT),
        "failed": sum(1 for page in pages if page.status == NotificationStatus.FAILED),
        "acknowledged_at": acknowledged.at.isoformat() if acknowledged else None,
        "acknowledged_by": acknowledged.actor if acknowledged else None,
    }
    if pages or (incident.escalation_snapshot or {}).get("steps"):  # incidents.timeline says it
        _record(incident, EventKind.ESCALATION_SUMMARY, None, now, "", summary)
    reached = {
        page.channel_id: page.channel
        for page in pages
        if page.status == NotificationStatus.SENT and page.channel is not None
    }
    notices = [
        channel for channel in reached.values() if channel.enabled and channel.resolution_notices
    ]
    if not notices:
        return
    resolved_by = by.get_username() if _user(by) else reason
    rows = []
    for channel in notices:
        with translation.override(language_of(channel.contact.user)):
            message = resolution_message(incident, resolved_by=resolved_by, now=now)
        rows.append(
            Notification(
                incident=incident,
                escalation_round=incident.escalation_round,
                step=0,
                condition=StepCondition.NOT_RESOLVED,
                contact=channel.contact,
                channel=channel,
                kind=channel.kind,
                target=channel.target,
                purpose=Purpose.NOTICE,
                notice=f"resolved:{incident.pk}:{incident.escalation_round}",
                recipient=f"channel:{channel.pk}",
                message=message,
                created_at=now,
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(lambda: _enqueue_delivery(incident.pk))


def close(*, incident: Incident, by) -> Incident:
    """Close a resolved incident."""
    now = timezone.now()
    _transition(incident, "close", Status.CLOSED, by, now, {"closed_at": now})
    return incident


def reopen(*, incident: Incident, by, reason: str = "") -> Incident:
    """Re-open a resolved or closed incident: a new escalation round starts from now,
    with the policy as it is now."""
    now = timezone.now()
    snapshot = snapshot_policy(service=incident.service, severity=incident.severity)
    changes = {
        "resolved_at": None,
        "resolved_by": None,
        "closed_at": None,
        "escalation_round": F("escalation_round") + 1,
        "escalation_snapshot": snapshot,
        "escalation_started_at": now,
        "escalation_step": -1,
        "next_escalation_at": first_escalation_at(snapshot, now),
    }
    try:
        with transaction.atomic():
            _transition(incident, "reopen", Status.TRIGGERED, by, now, changes, message=reason)
    except IntegrityError:
        raise DomainError(
            _("Another open incident has the same deduplication key."),
            code="duplicate",
            conflict=True,
        ) from None
    _escalate_soon(incident, now)
    return incident


def retrigger(
    *,
    incident: Incident,
    reason: str,
    page_window: timedelta,
    now: datetime | None = None,
    cause: dict | None = None,
) -> Incident:
    """The cause of a resolved incident came back (a flapping probe): re-open that incident instead
    of opening another, with a "re-triggered" event saying why: `reason` as free text, `cause` as
    parameters for incidents.timeline (a probe's `{"count": 3, "since": 240.0}` failures again).

    It pages per its policy at most once per `page_window`: when its last round of paging started
    within the window, that round goes on where the resolve stopped it (steps that fired do not fire
    again; steps still ahead fire when due); otherwise a new round starts from now, as reopen does.
    Raises DomainError when the incident is not resolved (closed, or open again meanwhile) or
    another open incident holds its key.
    """
    now = now or timezone.now()
    stored = (
        Incident.objects.filter(pk=incident.pk)
        .values("status", "escalation_started_at", "escalation_snapshot", "resolved_at")
        .first()
    )
    if stored is None or stored["status"] != Status.RESOLVED:
        raise DomainError(
            _("Only a resolved incident can be re-triggered."),
            code="invalid_transition",
            conflict=True,
        )
    started, resolved_at = stored["escalation_started_at"], stored["resolved_at"] or now
    paged_recently = started is not None and now - started < page_window
    changes = {"resolved_at": None, "resolved_by": None}
    if paged_recently:
        ahead = [
            f.at
            for f in firings(stored["escalation_snapshot"] or {}, started)
            if f.at > resolved_at
        ]
        changes["next_escalation_at"] = min(ahead, default=None)
    else:
        snapshot = snapshot_policy(service=incident.service, severity=incident.severity)
        changes.update(
            {
                "escalation_round": F("escalation_round") + 1,
                "escalation_snapshot": snapshot,
                "escalation_started_at": now,
                "escalation_step": -1,
                "next_escalation_at": first_escalation_at(snapshot, now),
            }
        )
    try:
        with transaction.atomic():
            # The status the check above read: a resolve or reopen racing this one wins, this one
            # raises.
            _transition(
                incident,
                "reopen",
                Status.TRIGGERED,
                None,
                now,
                changes,
                fresh={"status": Status.RESOLVED, "acknowledged_at": None},
                message=reason,
                data={"variant": "retriggered", **({"cause": cause} if cause else {})},
            )
            _record(
                incident,
                EventKind.RETRIGGERED,
                None,
                now,
                reason,
                {
                    "paged": not paged_recently,
                    "round": incident.escalation_round,
                    **({"cause": cause} if cause else {}),
                },
            )
    except IntegrityError:
        raise DomainError(
            _("Another open incident has the same deduplication key."),
            code="duplicate",
            conflict=True,
        ) from None
    _escalate_soon(incident, now)
    return incident


# What a person may edit on an incident outside the transitions; each change is
# a `change` timeline event. Status, times, source and dedup key are the services'.
EDITABLE_FIELDS = frozenset(
    {
        "service",
        "title",
        "description",
        "severity",
        "category",
        "scope",
        "commander",
        "impact_started_at",
        "detected_at",
    }
)
# The editable fields a rollup depends on (its key, and the downtime's start).
ROLLUP_FIELDS = frozenset({"service", "severity", "impact_started_at"})


def edit_incident(
    *, incident: Incident, by, changes: dict, now: datetime | None = None
) -> Incident:
    """Change the editable fields of an incident; one `change` event lists what moved
    (a SEV1 made a SEV4 is on the timeline, with who did it)."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(
            _("These fields cannot be edited: %(fields)s.")
            % {"fields": ", ".join(sorted(unknown))},
            field=sorted(unknown)[0],
        )
    if "severity" in changes and changes["severity"] not in Severity.values:
        raise DomainError(
            _("Unknown severity %(value)r.") % {"value": changes["severity"]}, field="severity"
        )
    if "scope" in changes and changes["scope"] not in Scope.values:
        raise DomainError(
            _("Unknown scope %(value)r.") % {"value": changes["scope"]}, field="scope"
        )
    if "title" in changes and not (changes["title"] or "").strip():
        raise DomainError(_("An incident needs a title."), field="title")
    now = now or timezone.now()
    with transaction.atomic():
        stored = Incident.objects.select_for_update().filter(pk=incident.pk).first()
        if stored is None:
            raise DomainError(_("This incident no longer exists."), code="not_found", conflict=True)
        moved = {
            name: (getattr(stored, name), value)
            for name, value in changes.items()
            if getattr(stored, name) != value
        }
        if not moved:
            return stored
        before = rollups.key_of(stored)
        for name, (_old, value) in moved.items():
            setattr(stored, name, value)
        stored.save(update_fields=list(moved))
        if moved.keys() & ROLLUP_FIELDS:
            rollups.refresh_incident(stored.pk, before=before)
        _record(
            stored,
            EventKind.CHANGE,
            by,
            now,
            "",
            {"changes": {name: _moved(old, new) for name, (old, new) in moved.items()}},
        )
    return stored


def _moved(old, new) -> dict:
    """An edited field's two values for the event's data; a related row's name too, as it is now."""
    moved = {"from": _plain(old), "to": _plain(new)}
    for end, value in (("from", old), ("to", new)):
        if isinstance(value, Model):
            moved[f"{end}_shown"] = str(value)
    return moved


def _plain(value):
    """A JSON-safe form of a field value for the event's data."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return getattr(value, "pk", str(value))


def add_note(*, incident: Incident, by, text: str) -> TimelineEvent:
    """Append a note to the incident's timeline."""
    text = (text or "").strip()
    if not text:
        raise DomainError(_("A note cannot be empty."), field="text")
    with transaction.atomic():
        return _record(incident, EventKind.NOTE, by, timezone.now(), text, {})


def add_event(
    *,
    incident: Incident,
    kind: str,
    message: str = "",
    data: dict | None = None,
    by=None,
    now: datetime | None = None,
) -> TimelineEvent:
    """Append any other event (probe result, checklist item, postmortem) to the timeline."""
    if kind not in EventKind.values:
        raise DomainError(_("Unknown event kind %(kind)r.") % {"kind": kind}, field="kind")
    with transaction.atomic():
        return _record(incident, kind, by, now or timezone.now(), message, data or {})


# Helpers


def _open_with_key(dedup_key: str) -> Incident | None:
    if not dedup_key:
        return None
    return Incident.objects.filter(dedup_key=dedup_key, status__in=OPEN_STATUSES).first()


def _create_incident(*, by, now, detected_at, service, severity, data=None, **fields) -> Incident:
    snapshot = snapshot_policy(service=service, severity=severity)
    incident = Incident.objects.create(
        service=service,
        severity=severity,
        created_at=now,
        detected_at=detected_at or now,
        escalation_snapshot=snapshot,
        escalation_started_at=now,
        escalation_step=-1,
        next_escalation_at=first_escalation_at(snapshot, now),
        **fields,
    )
    _record(
        incident,
        EventKind.CREATED,
        by,
        now,
        "",
        {
            **(data or {}),
            "title": incident.title,
            "severity": severity,
            "source": incident.source,
            "policy": snapshot.get("policy"),
        },
    )
    rollups.add_new(incident)
    _escalate_soon(incident, now)
    routes.emit_incident(incident, RouteEvent.INCIDENT_OPENED, now=now)
    return incident


@functools.cache
def load_urls() -> None:
    """The first reverse() of a process imports every view module (1.5 s on the idle bench machine).
    Opening an incident needs its URL (routes, links) while it holds the database's write lock, all
    of SQLite's: the first incident a worker opens must not hold every other writer, the pager's
    pages among them, for that long. So its callers load the URLs before taking the lock."""
    reverse("incidents:detail", args=[1])


def _escalate_soon(incident: Incident, now: datetime) -> None:
    # Step 0 usually fires at once: do not wait up to a minute for the sweep, nor up to a second
    # for the pager's poll. The task is for a portal run without a pager listening here: with
    # one, it is a write more (on SQLite, the ORM broker's, under the one write lock) for nothing.
    if incident.next_escalation_at and incident.next_escalation_at <= now:
        transaction.on_commit(lambda: waker.wake_pager() or _enqueue_escalation(incident.pk))


def _enqueue_delivery(incident_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("incidents.tasks.send_notifications", [incident_id])
    except Exception:
        # the rows are committed: the minute retry job sends them if the broker is down
        logger.exception(
            "could not enqueue the delivery of incident %s's resolution notices", incident_id
        )


def _enqueue_escalation(incident_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("incidents.tasks.escalate_incident", incident_id)
    except Exception:
        # the broker being down must not fail the request; the minute sweep catches up
        logger.exception("could not enqueue the escalation of incident %s", incident_id)


def _current(incident: Incident) -> dict:
    row = Incident.objects.filter(pk=incident.pk).values("status", "acknowledged_at").first()
    if row is None:
        raise DomainError(_("This incident no longer exists."), code="not_found", conflict=True)
    return row


# The verbs of ALLOWED_FROM, for messages.
ACTION_LABELS = {
    "acknowledge": gettext_lazy("acknowledge"),
    "mitigate": gettext_lazy("mitigate"),
    "resolve": gettext_lazy("resolve"),
    "close": gettext_lazy("close"),
    "reopen": gettext_lazy("reopen"),
}


def _transition(
    incident: Incident,
    action: str,
    to: str,
    by,
    now: datetime,
    changes: dict,
    *,
    extra_filter: dict | None = None,
    fresh: dict | None = None,
    message: str = "",
    contact=None,
    data: dict | None = None,
) -> None:
    allowed = ALLOWED_FROM[action]
    with transaction.atomic():
        fresh = fresh or _current(incident)
        if fresh["status"] not in allowed:
            # Not allowed from the status it has now: a conflict with its current state.
            raise DomainError(
                _("Cannot %(action)s an incident that is %(status)s.")
                % {"action": ACTION_LABELS[action], "status": Status(fresh["status"]).label},
                code="invalid_transition",
                conflict=True,
            )
        # Conditional on the status just read: if another request changed it in
        # between (acknowledge racing resolve), we change nothing and say so.
        updated = Incident.objects.filter(
            pk=incident.pk, status=fresh["status"], **(extra_filter or {})
        ).update(status=to, **changes)
        if not updated:
            raise DomainError(
                _("The incident changed meanwhile; cannot %(action)s it now.")
                % {"action": ACTION_LABELS[action]},
                code="conflict",
                conflict=True,
            )
        _record(
            incident,
            EventKind.STATUS,
            by,
            now,
            message,
            {"from": fresh["status"], "to": to, "action": action, **(data or {})},
            contact=contact,
        )
        _cancel_notifications(incident, to)
        if changes.keys() & {"acknowledged_at", "resolved_at"}:
            rollups.refresh_incident(incident.pk)
        if to in ROUTED_STATUSES:
            routes.emit_incident(incident, ROUTED_STATUSES[to], now=now)
    incident.refresh_from_db()
    record_change(incident, by=by)


# Status changes that team channels may subscribe to (incidents.routes).
ROUTED_STATUSES = {
    Status.ACKNOWLEDGED: RouteEvent.INCIDENT_ACKNOWLEDGED,
    Status.RESOLVED: RouteEvent.INCIDENT_RESOLVED,
}


def _cancel_notifications(incident: Incident, status: str) -> None:
    # Pages only (no key): a notice (a status page's, a resolution notice), a reminder or a routed
    # event ("resolved") is sent whatever the status.
    pending = Notification.objects.filter(
        incident=incident, status=NotificationStatus.PENDING, notice__isnull=True
    )
    if status in (Status.ACKNOWLEDGED, Status.MITIGATED):
        pending = pending.filter(condition=StepCondition.NOT_ACKNOWLEDGED)
    elif status not in (Status.RESOLVED, Status.CLOSED):
        return
    pending.update(status=NotificationStatus.CANCELLED, next_attempt_at=None, claim=None)


def _record(
    incident: Incident, kind: str, by, now: datetime, message: str, data: dict, contact=None
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident,
        at=now,
        kind=kind,
        actor_user=_user(by),
        actor_contact=contact,
        message=message,
        data=data,
    )


def _user(by):
    return by if getattr(by, "is_authenticated", False) else None


# The one outbox, for the other apps (incidents.outbox, incidents.routes) -------------------


def emit_event(
    *,
    event: str,
    key: str,
    severity: str,
    title: str,
    service: Service | None = None,
    detail: str = "",
    url: str = "",
    incident: Incident | None = None,
    now: datetime | None = None,
) -> int:
    """Tell the team channels that subscribed to this kind of event (a probe warning, a backup that
    failed, an overdue checklist …); pages nobody. `key` names this occurrence (e.g. a probe
    result's id): emitting it again queues nothing. Returns the number of messages queued."""
    if event not in RouteEvent.values:
        raise ValueError(f"unknown route event {event!r}")
    return routes.emit(
        event=event,
        key=key,
        service_id=service.pk if service else None,
        service_name=service.name if service else "",
        severity=severity,
        title=title,
        detail=detail,
        url=url,
        now=now or timezone.now(),
        incident_id=incident.pk if incident else None,
    )


def queue_message(
    *,
    purpose: str,
    key: str,
    recipient: str,
    kind: str,
    target: str,
    subject: str,
    text: str,
    url: str,
    language: str,
    link_label: str = "",
    contact=None,
    incident: Incident | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one message (written in `language`) into the outbox, once per (key, recipient);
    whether it was new. send_pending (or the minute's retry sweep) sends it."""
    if purpose == Purpose.PAGE or purpose not in Purpose.values:
        raise ValueError(f"not a message purpose: {purpose!r}")
    message = outbox.rendered(
        subject=subject, text=text, url=url, language=language, link_label=link_label
    )
    row = outbox.outgoing(
        purpose=purpose,
        key=key,
        recipient=recipient,
        kind=kind,
        target=target,
        message=message,
        now=now or timezone.now(),
        incident_id=incident.pk if incident else None,
        contact=contact,
    )
    return outbox.queue([row]) == 1
