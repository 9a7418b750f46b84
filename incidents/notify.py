"""Notification channels: a dispatch table of plain senders, and the claim–send–record loop.

A sender takes a target (address or URL) and a Message and raises on failure.
`send_pending` claims rows with a conditional update (so two workers never send
the same row), sends outside any write transaction, then records every outcome
in one transaction: sent, retry later with backoff, or failed for good.
"""

import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.languages import language_of
from core.outbound import check_url, guard_response
from core.secrets import redact, scrub
from incidents import acklinks, apprise_channels
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    NotificationStatus,
    Status,
    TimelineEvent,
    shown_target,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4  # then the row is marked failed
WEBHOOK_TIMEOUT = (3, 5)  # connect, read (seconds)
SEND_THREADS = 8  # webhooks are I/O-bound: one slow endpoint must not hold up the others
# Rows are claimed a small chunk at a time, so the lease can be short: a chunk is two rounds of
# sends, each bounded by WEBHOOK_TIMEOUT or EMAIL_TIMEOUT (≤ 10 s). A claimed row is not offered
# again before the lease runs out, and one whose worker was killed is offered again soon after.
SEND_BATCH = 2 * SEND_THREADS
SEND_LEASE = timedelta(seconds=45)
ERROR_BODY_BYTES = 800  # of a failing webhook's answer: enough to say why, not a page of its data
ERROR_BODY_CHARS = 200


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 1, 2, 4 … minutes."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


class SendError(Exception):
    pass


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    url: str
    acknowledge_url: str
    severity: str
    fields: dict = field(default_factory=dict)
    # The same for every attempt of one notification: a receiver drops a page it has seen,
    # e.g. one answered just before the sending worker was killed and so sent again.
    idempotency_key: str = ""


def incident_links(incident: Incident) -> tuple[str, str]:
    """Absolute URLs of the incident page and of its one-click acknowledge page."""
    return (settings.BASE_URL + incident.get_absolute_url(),
            settings.BASE_URL + reverse("incidents:acknowledge", args=[incident.pk]))


def format_age(age: timedelta) -> str:
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [_("%(days)d d") % {"days": days}] if days else []
    if hours:
        parts.append(_("%(hours)d h") % {"hours": hours})
    if minutes or not parts:
        parts.append(_("%(minutes)d min") % {"minutes": minutes})
    return " ".join(parts)


LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """Line breaks as spaces: a title typed with a newline must not break an e-mail header."""
    return LINE_BREAKS.sub(" ", text).strip()


def slack_text(text: str) -> str:
    """Slack and Mattermost read <!channel>, <@U123> and <https://x|label> as mentions and links:
    a title arrives as the text it is, with only &, < and > escaped as their API asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


TEAMS_MARKDOWN = re.compile(r"([\\`*_#!|~]|(?<=\])\()")
TEAMS_LIST = re.compile(r"^([ \t]*)([-+]|\d+\.)(?=[ \t])", re.MULTILINE)  # "- x" and "1. x" start a list


def teams_text(text: str) -> str:
    """An Adaptive Card's TextBlock and Fact render markdown (and Teams reads <at> and entities): a
    title's [label](url), **, # or <a> shows as typed. A lone [SEV1] is no link and stays as it is."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = TEAMS_MARKDOWN.sub(r"\\\1", text)
    return TEAMS_LIST.sub(r"\1\\\2", text)


def build_message(incident: Incident, now: datetime) -> Message:
    url, ack_url = incident_links(incident)
    severity = incident.get_severity_display()
    age = format_age(incident.open_for(now))
    subject = one_line(f"[{incident.severity.upper()}] {incident.service.name}: {incident.title}")
    text = "\n".join([
        subject,
        _("Severity: %(severity)s") % {"severity": severity},
        _("Service: %(name)s") % {"name": incident.service.name},
        _("Status: %(status)s") % {"status": incident.get_status_display()},
        _("Open for: %(age)s") % {"age": age},
        _("Incident: %(url)s") % {"url": url},
        _("Acknowledge: %(url)s") % {"url": ack_url},
    ])
    fields = {
        "incident": incident.pk,
        "title": incident.title,
        "severity": incident.severity,
        "service": incident.service.name,
        "status": incident.status,
        "created_at": incident.created_at.isoformat(),
        "open_for_seconds": int(incident.open_for(now).total_seconds()),
        "url": url,
        "acknowledge_url": ack_url,
    }
    return Message(subject=subject, text=text, url=url, acknowledge_url=ack_url, severity=str(severity),
                   fields=fields)


def with_acknowledge_link(message: Message, notification: Notification) -> Message:
    """A page to a contact carries that contact's own one-click link (incidents.acklinks) in place
    of the incident's acknowledge page, which needs a login."""
    if notification.contact_id is None:
        return message
    url = acklinks.link_url(notification)
    return replace(message, acknowledge_url=url, text=message.text.replace(message.acknowledge_url, url),
                   fields={**message.fields, "acknowledge_url": url})


def stored_message(stored: dict) -> Message:
    """A notice's message as it was written when it was queued (Notification.message)."""
    url = stored.get("url", "")
    return Message(subject=stored.get("subject", ""), text=stored.get("text", ""), url=url, acknowledge_url=url,
                   severity=stored.get("severity", ""), fields=stored.get("fields", {}))


def send_email(target: str, message: Message) -> None:
    # A header that cannot be written is a rendering problem, never a reason to lose the page.
    EmailMessage(subject=one_line(message.subject), body=message.text, to=[target]).send(fail_silently=False)


def _post(url: str, payload: dict, message: Message) -> None:
    headers = {"Content-Type": "application/json"}
    if message.idempotency_key:
        headers["Idempotency-Key"] = message.idempotency_key
    check_url(url, resolve=True)
    with requests.post(url, data=json.dumps(payload), timeout=WEBHOOK_TIMEOUT, headers=headers,
                       allow_redirects=False, stream=True, hooks={"response": guard_response}) as response:
        if 200 <= response.status_code < 300:
            return
        # The answer ends up in last_error, which the API and the timeline show: read a little of
        # it, and mask what looks like a credential (an endpoint echoing our request, a debug page).
        body = response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
    text = body.decode("utf-8", errors="replace")
    raise SendError(f"HTTP {response.status_code}: {redact(text, ERROR_BODY_CHARS)}")


def send_slack(target: str, message: Message) -> None:
    _post(target, {"text": f"*{slack_text(message.subject)}*\n{slack_text(message.text)}"}, message)


ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders on desktop, web and mobile


def adaptive_card(body: list[dict], actions: list[dict]) -> dict:
    """A Teams Workflows webhook message: one Adaptive Card in the Bot Framework envelope (the
    "When a Teams webhook request is received" trigger posts attachments[0].content as it is)."""
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION, "msteams": {"width": "Full"}, "body": body, "actions": actions,
    }}]}


def open_url(title: str, url: str) -> dict:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def status_label(status: str) -> str:
    """An incident status as the reader's language says it ("triggered" → "발생")."""
    return str(Status(status).label) if status in Status.values else status


def send_teams(target: str, message: Message) -> None:
    title = {"type": "TextBlock", "text": teams_text(message.subject), "weight": "Bolder", "size": "Medium",
             "wrap": True}
    if message.fields.get("notice"):
        # A notice (see Notification.notice) is its text, with no page facts or acknowledge button.
        # A TextBlock breaks a line at a blank line only.
        text = {"type": "TextBlock", "text": teams_text(message.text).replace("\n", "\n\n"), "wrap": True}
        _post(target, adaptive_card([title, text], [open_url(_("Open status page"), message.url)]), message)
        return
    title["color"] = "Attention" if message.fields.get("severity") in ("sev1", "sev2") else "Warning"
    facts = [
        (_("Severity"), message.severity),
        (_("Service"), message.fields.get("service", "")),
        (_("Status"), status_label(message.fields.get("status", ""))),
        (_("Open for"), format_age(timedelta(seconds=message.fields.get("open_for_seconds", 0)))),
    ]
    _post(target, adaptive_card(
        [title, {"type": "FactSet", "facts": [{"title": name, "value": teams_text(str(value))}
                                              for name, value in facts]}],
        [open_url(_("Open incident"), message.url), open_url(_("Acknowledge"), message.acknowledge_url)],
    ), message)


def send_webhook(target: str, message: Message) -> None:
    _post(target, {**message.fields, "text": message.text, "idempotency_key": message.idempotency_key}, message)


def send_apprise(target: str, message: Message) -> None:
    apprise_channels.send(target, message.text, message.subject, WEBHOOK_TIMEOUT)


def send_sms(target: str, message: Message) -> None:
    """A text message: the title and the acknowledge link (the link the reader needs on a phone)."""
    link = message.acknowledge_url if not message.fields.get("notice") else message.url
    text = f"{one_line(message.subject)[:apprise_channels.SMS_CHARS - len(link) - 1]}\n{link}"
    apprise_channels.send(target, text, "", WEBHOOK_TIMEOUT)


SENDERS = {"email": send_email, "slack": send_slack, "teams": send_teams, "webhook": send_webhook,
           "apprise": send_apprise, "sms": send_sms}


def recipient_language(notification) -> str:
    """The language a notification or reminder is written in: its contact's user's choice, else the default."""
    contact = notification.contact
    return language_of(contact.user if contact is not None else None)


def deliver(notification: Notification, message: Message) -> str:
    """Send one notification; the error text, or "" on success. Never raises."""
    try:
        # A sender's own labels (a Teams card's field names) speak the message's language too.
        key = f"{notification._meta.model_name}-{notification.pk}"
        with translation.override(recipient_language(notification)):
            SENDERS[notification.kind](notification.target, replace(message, idempotency_key=key))
    except Exception as exc:  # a broken channel must never break the sweep or the other channels
        # requests quotes the URL in its errors ("… for url: https://hooks…/T0/B0/secret"): the
        # stored error, the timeline and the log get the masked form.
        error = scrub(f"{type(exc).__name__}: {exc}", notification.target,
                      lambda target: shown_target(notification.kind, target))
        logger.warning("notification %s to %s failed: %s", notification.pk, notification.shown_target, error)
        return error[:1000] or "error"
    return ""


def send_pending(*, now: datetime | None = None, incident_ids: list[int] | None = None) -> int:
    """Claim and send every due pending notification (of these incidents, if given), in chunks.

    Without an explicit `now`, each chunk's lease starts when that chunk is claimed, not when the
    first one was: a long delivery must not claim its last chunks with a lease already run out.
    """
    total = 0
    while True:
        sent = _send_chunk(now or timezone.now(), incident_ids, SEND_BATCH)
        total += sent
        if sent < SEND_BATCH:
            return total


def _send_chunk(now: datetime, incident_ids, limit: int) -> int:
    claimed = _claim(now, incident_ids, limit)
    if not claimed:
        return 0
    messages = {}
    jobs = []
    for notification in claimed:
        if notification.notice:
            jobs.append((notification, stored_message(notification.message or {})))
            continue
        key = (notification.incident_id, recipient_language(notification))
        if key not in messages:
            with translation.override(key[1]):
                messages[key] = build_message(notification.incident, now)
        jobs.append((notification, with_acknowledge_link(messages[key], notification)))
    if len(jobs) == 1:
        errors = [deliver(*jobs[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(jobs))) as pool:
            errors = list(pool.map(lambda job: deliver(*job), jobs))
    _record(claimed, errors, now)
    return len(claimed)


def retry_notifications(*, now: datetime | None = None) -> int:
    """Cancel sends that no longer matter, then (re)send every due pending one."""
    now = now or timezone.now()
    Notification.objects.stale().update(status=NotificationStatus.CANCELLED, next_attempt_at=None)
    return send_pending(now=now)


def _claim(now: datetime, incident_ids, limit: int) -> list[Notification]:
    due = Notification.objects.due(now)
    if incident_ids is not None:
        due = due.filter(incident_id__in=incident_ids)
    ids = list(due.exclude(pk__in=Notification.objects.stale()).order_by("pk").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    # The update re-checks "still due" row by row under the row lock
    # (PostgreSQL) or the database write lock (SQLite): of two workers that read
    # the same ids, only the first takes each row. Pushing next_attempt_at out is the lease.
    token = uuid.uuid4()
    Notification.objects.due(now).filter(pk__in=ids).update(claim=token, next_attempt_at=now + SEND_LEASE)
    return list(
        Notification.objects.filter(pk__in=ids, claim=token)
        .select_related("incident__service", "contact__user__preference").order_by("pk")
    )


def _record(claimed: list[Notification], errors: list[str], now: datetime) -> None:
    events = []
    for notification, error in zip(claimed, errors, strict=True):
        notification.attempts += 1
        notification.claim = None
        who = notification.contact.name if notification.contact else notification.shown_target
        data = {"notification": notification.pk, "contact": notification.contact_id, "kind": notification.kind,
                "step": notification.step,
                "repeat": notification.repeat, "attempts": notification.attempts}
        if not error:
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.next_attempt_at = None
            notification.last_error = ""
            if notification.notice:
                continue  # the notice is on the timeline once, not once per subscriber
            events.append(TimelineEvent(incident_id=notification.incident_id, at=now, data=data,
                                        kind=EventKind.NOTIFICATION_SENT,
                                        message=f"{notification.get_kind_display()} sent to {who}."))
            continue
        notification.last_error = error
        if notification.attempts >= MAX_ATTEMPTS:
            notification.status = NotificationStatus.FAILED
            notification.next_attempt_at = None
            events.append(TimelineEvent(
                incident_id=notification.incident_id, at=now, data={**data, "error": error},
                kind=EventKind.NOTIFICATION_FAILED,
                message=f"{notification.get_kind_display()} to {who} failed after "
                        f"{notification.attempts} attempts: {error}",
            ))
        else:
            notification.next_attempt_at = now + backoff(notification.attempts)
    sent = [n.pk for n in claimed if n.status == NotificationStatus.SENT]
    unsent = [n for n in claimed if n.status != NotificationStatus.SENT]
    with transaction.atomic():
        # Successes, the common case, share their values: one plain UPDATE is far
        # cheaper than bulk_update's CASE per row (which SQLite also splits).
        if sent:
            Notification.objects.filter(pk__in=sent).update(
                status=NotificationStatus.SENT, attempts=F("attempts") + 1, sent_at=now, last_error="",
                next_attempt_at=None, claim=None,
            )
        if unsent:
            Notification.objects.bulk_update(unsent, ["status", "attempts", "last_error", "next_attempt_at", "claim"])
        TimelineEvent.objects.bulk_create(events)
