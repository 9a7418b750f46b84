"""Daily follow-up: remind owners of missing postmortems and overdue action items.

Each (subject, day, channel) is one row of the one outbox (incidents.outbox), written in the
contact's language and keyed, so a second run the same day, or a second cluster, queues nothing;
incidents.notify.send_pending sends it, retries it with backoff and records it.
"""

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from incidents import outbox
from incidents.models import ActionItem, Contact, Incident, Notification, Purpose, ReminderReason
from incidents.notify import recipient_language, send_pending
from incidents.postmortems import (
    local_date,
    missing_postmortems,
    overdue_action_items,
    postmortem_deadline,
)


def send_reminders(*, now: datetime | None = None) -> int:
    """Queue today's reminders (once), then send what is due; the number of reminders queued."""
    now = now or timezone.now()
    today = local_date(now)
    queued = outbox.queue([*_postmortem_rows(now, today), *_action_item_rows(now, today)])
    send_pending(now=now)
    return queued


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


def _postmortem_rows(now, today) -> list[Notification]:
    incidents = (
        missing_postmortems(now=now)
        .select_related(
            "service__owner",
            "commander__contact",
            "resolved_by__contact",
            "postmortem__author__contact",
        )
        .prefetch_related(
            "service__owner__channels",
            "commander__contact__channels",
            "resolved_by__contact__channels",
            "postmortem__author__contact__channels",
        )
    )
    rows = []
    for incident in incidents:
        for contact in _recipients_of(incident):
            rows += _rows_for(
                contact,
                reason=ReminderReason.POSTMORTEM_DUE,
                subject=f"postmortem:{incident.pk}",
                day=today,
                incident=incident,
                now=now,
            )
    return rows


def _action_item_rows(now, today) -> list[Notification]:
    items = (
        overdue_action_items(now=now)
        .filter(owner__active=True)
        .select_related("owner__user__preference", "postmortem__incident__service")
        .prefetch_related("owner__channels")
    )
    rows = []
    for item in items:
        rows += _rows_for(
            item.owner,
            reason=ReminderReason.ACTION_ITEM_OVERDUE,
            subject=f"action_item:{item.pk}",
            day=today,
            incident=item.postmortem.incident,
            action_item=item,
            now=now,
        )
    return rows


def _rows_for(
    contact: Contact,
    *,
    now,
    reason: str,
    subject: str,
    day,
    incident: Incident,
    action_item: ActionItem | None = None,
) -> list[Notification]:
    channels = [channel for channel in contact.channels.all() if channel.enabled]
    if not channels:
        return []
    with translation.override(recipient_language(Notification(contact=contact))):
        message = build_reminder(reason=reason, incident=incident, action_item=action_item)
    return [
        outbox.outgoing(
            purpose=Purpose.REMINDER,
            key=f"reminder:{subject}:{day.isoformat()}",
            recipient=f"channel:{channel.pk}",
            kind=channel.kind,
            target=channel.target,
            message=message,
            now=now,
            incident_id=incident.pk,
            contact=contact,
            channel=channel,
        )
        for channel in channels
    ]


def build_reminder(*, reason: str, incident: Incident, action_item: ActionItem | None) -> dict:
    """The reminder in the active language, as the outbox stores it."""
    url = settings.BASE_URL + reverse("incidents:postmortem", args=[incident.pk])
    if reason == ReminderReason.POSTMORTEM_DUE:
        deadline = postmortem_deadline(incident)
        subject = _("[Postmortem due] #%(id)s %(title)s") % {
            "id": incident.pk,
            "title": incident.title,
        }
        due = (
            formats.date_format(timezone.localtime(deadline), "DATETIME_FORMAT")
            if deadline
            else "–"
        )
        lines = [
            subject,
            _("Service: %(name)s") % {"name": incident.service.name},
            _("A published postmortem was due by %(deadline)s.") % {"deadline": due},
        ]
    else:
        subject = _("[Action item overdue] %(item)s") % {"item": action_item.description[:80]}
        lines = [
            subject,
            _("Incident: #%(id)s %(title)s") % {"id": incident.pk, "title": incident.title},
            _("Due: %(date)s")
            % {"date": formats.date_format(action_item.due_date) if action_item.due_date else "–"},
        ]
        if action_item.tracker_url:
            lines.append(action_item.tracker_url)
    lines.append(url)
    return outbox.rendered(
        subject=subject,
        text="\n".join(lines),
        url=url,
        language=translation.get_language(),
        severity=str(incident.get_severity_display()),
        link_label=_("Open postmortem"),
        reminder=reason,
        incident=incident.pk,
        title=incident.title,
        service=incident.service.name,
        action_item=action_item.pk if action_item else None,
    )
