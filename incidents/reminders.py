"""Daily follow-up: remind owners of missing postmortems and overdue action items.

The channels are the escalation's (incidents.notify.SENDERS through `deliver`).
Idempotent by design: each (subject, day, channel) is one Reminder row, created
with ignore_conflicts and then claimed with a conditional update before
sending, so a second run the same day, or a second cluster, sends nothing.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from incidents.models import (
    ActionItem,
    Contact,
    EventKind,
    Incident,
    NotificationStatus,
    Reminder,
    ReminderReason,
    TimelineEvent,
)
from incidents.notify import Message, deliver, recipient_language
from incidents.postmortems import local_date, missing_postmortems, overdue_action_items, postmortem_deadline


def send_reminders(*, now: datetime | None = None) -> int:
    """Create today's reminder rows (once), then send the ones nobody has sent yet."""
    now = now or timezone.now()
    today = local_date(now)
    rows = [*_postmortem_rows(now, today), *_action_item_rows(now, today)]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return _send_claimed(today, now)


def _recipients_of(incident: Incident) -> list[Contact]:
    people = []
    postmortem = getattr(incident, "postmortem", None)
    for user in (getattr(postmortem, "author", None), incident.commander, incident.resolved_by):
        contact = getattr(user, "contact", None) if user is not None else None
        if contact is not None and contact.active and contact not in people:
            people.append(contact)
    if not people and incident.service.owner and incident.service.owner.active:
        people.append(incident.service.owner)
    return people


def _postmortem_rows(now, today) -> list[Reminder]:
    incidents = missing_postmortems(now=now).select_related(
        "service__owner", "commander__contact", "resolved_by__contact", "postmortem__author__contact",
    ).prefetch_related("service__owner__channels", "commander__contact__channels",
                       "resolved_by__contact__channels", "postmortem__author__contact__channels")
    rows = []
    for incident in incidents:
        for contact in _recipients_of(incident):
            rows += _rows_for(contact, reason=ReminderReason.POSTMORTEM_DUE, subject=f"postmortem:{incident.pk}",
                              day=today, incident=incident, now=now)
    return rows


def _action_item_rows(now, today) -> list[Reminder]:
    items = overdue_action_items(now=now).filter(owner__active=True).select_related(
        "owner", "postmortem__incident").prefetch_related("owner__channels")
    rows = []
    for item in items:
        rows += _rows_for(item.owner, reason=ReminderReason.ACTION_ITEM_OVERDUE, subject=f"action_item:{item.pk}",
                          day=today, incident=item.postmortem.incident, action_item=item, now=now)
    return rows


def _rows_for(contact: Contact, *, now, **fields) -> list[Reminder]:
    return [Reminder(contact=contact, channel=channel, kind=channel.kind, target=channel.target, created_at=now,
                     **fields)
            for channel in contact.channels.all() if channel.enabled]


def _send_claimed(today, now) -> int:
    token = uuid.uuid4()
    # Only the run that flips a row from unclaimed takes it: two workers never send it twice.
    Reminder.objects.filter(day=today, status=NotificationStatus.PENDING, claim__isnull=True).update(claim=token)
    claimed = list(Reminder.objects.filter(claim=token).select_related(
        "incident__service", "action_item__owner", "contact__user__preference").order_by("pk"))
    events = []
    for reminder in claimed:
        with translation.override(recipient_language(reminder)):
            message = build_reminder(reminder)
        error = deliver(reminder, message)
        reminder.attempts += 1
        who = reminder.contact.name if reminder.contact else reminder.shown_target
        data = {"reminder": reminder.pk, "reason": reminder.reason, "contact": reminder.contact_id,
                "kind": reminder.kind, "who": who, "variant": "reminder"}
        if error:
            reminder.status, reminder.last_error = NotificationStatus.FAILED, error
            events.append(TimelineEvent(incident_id=reminder.incident_id, at=now, kind=EventKind.NOTIFICATION_FAILED,
                                        data={**data, "error": error}))
        else:
            reminder.status, reminder.sent_at = NotificationStatus.SENT, now
            events.append(TimelineEvent(incident_id=reminder.incident_id, at=now, kind=EventKind.NOTIFICATION_SENT,
                                        data=data))
    with transaction.atomic():
        Reminder.objects.bulk_update(claimed, ["status", "attempts", "last_error", "sent_at"])
        TimelineEvent.objects.bulk_create(events)
    return sum(1 for r in claimed if r.status == NotificationStatus.SENT)


def build_reminder(reminder: Reminder) -> Message:
    incident = reminder.incident
    url = settings.BASE_URL + reverse("incidents:postmortem", args=[incident.pk])
    if reminder.reason == ReminderReason.POSTMORTEM_DUE:
        deadline = postmortem_deadline(incident)
        subject = _("[Postmortem due] #%(id)s %(title)s") % {"id": incident.pk, "title": incident.title}
        due = formats.date_format(timezone.localtime(deadline), "DATETIME_FORMAT") if deadline else "–"
        lines = [subject, _("Service: %(name)s") % {"name": incident.service.name},
                 _("A published postmortem was due by %(deadline)s.") % {"deadline": due}]
    else:
        item: ActionItem = reminder.action_item
        subject = _("[Action item overdue] %(item)s") % {"item": item.description[:80]}
        lines = [subject, _("Incident: #%(id)s %(title)s") % {"id": incident.pk, "title": incident.title},
                 _("Due: %(date)s") % {"date": formats.date_format(item.due_date) if item.due_date else "–"}]
        if item.tracker_url:
            lines.append(item.tracker_url)
    lines.append(url)
    fields = {"reminder": reminder.reason, "incident": incident.pk, "title": incident.title,
              "severity": incident.severity, "service": incident.service.name, "url": url,
              "action_item": reminder.action_item_id}
    return Message(subject=subject, text="\n".join(lines), url=url, acknowledge_url=url,
                   severity=str(incident.get_severity_display()), fields=fields)
