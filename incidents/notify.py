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
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from core.display import format_duration
from core.languages import language_of
from core.outbound import check_url, guard_response
from core.secrets import mask_webhook, redact, scrub
from incidents import acklinks, apprise_channels, korean_channels
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    NotificationChannel,
    NotificationStatus,
    Purpose,
    Severity,
    Status,
    Tier,
    TimelineEvent,
    shown_target,
)
from incidents.targets import schedule_names

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
    # A page's facts as (label, value) in the reader's language: a Teams card's FactSet, the text's
    # lines.
    facts: tuple = ()
    # The same for every attempt of one notification: a receiver drops a page it has seen,
    # e.g. one answered just before the sending worker was killed and so sent again.
    idempotency_key: str = ""


def incident_links(incident: Incident) -> tuple[str, str]:
    """Absolute URLs of the incident page and of its one-click acknowledge page."""
    return (
        settings.BASE_URL + incident.get_absolute_url(),
        settings.BASE_URL + reverse("incidents:acknowledge", args=[incident.pk]),
    )


LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """Line breaks as spaces: a title typed with a newline must not break an e-mail header."""
    return LINE_BREAKS.sub(" ", text).strip()


def slack_text(text: str) -> str:
    """Slack and Mattermost read <!channel>, <@U123> and <https://x|label> as mentions and links:
    a title arrives as the text it is, with only &, < and > escaped as their API asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


TEAMS_MARKDOWN = re.compile(r"([\\`*_#!|~]|(?<=\])\()")
# "- x" and "1. x" start a list
TEAMS_LIST = re.compile(r"^([ \t]*)([-+]|\d+\.)(?=[ \t])", re.MULTILINE)


def teams_text(text: str) -> str:
    """An Adaptive Card's TextBlock and Fact render markdown (and Teams reads <at> and entities): a
    title's [label](url), **, # or <a> shows as typed. A lone [SEV1] is no link and stays as it
    is."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = TEAMS_MARKDOWN.sub(r"\\\1", text)
    return TEAMS_LIST.sub(r"\1\\\2", text)


WHY_CHARS = 300  # of a probe's message or an alert's description: enough to say why, not a log


@dataclass(frozen=True)
class PageFacts:
    """What one page says, whatever its channel: built once (gather_facts), rendered per language
    (build_message) and per format (the senders)."""

    incident: int
    title: str
    severity: str
    service: str
    status: str
    created_at: datetime
    open_for: timedelta
    why: str
    url: str
    acknowledge_url: str
    step: int | None = (
        None  # 0-based index of the step that paged, None for a message sent outside a step
    )
    steps: int = 0
    repeat: int = 0
    paged_as: str = ""  # "Tier 2: Developers", an on-call schedule's name…
    others: tuple[str, ...] = ()  # who else this round has paged, by name, in the order paged


@dataclass
class PageContext:
    """What gather_facts reads about several incidents at once: a constant number of queries per
    chunk."""

    why: dict[int, str]
    paged: dict[tuple[int, int], list[tuple[int, str]]]  # (incident, round) → [(contact id, name)]
    tiers: dict[int, str]
    schedules: dict[int, str]

    @classmethod
    def load(cls, incidents: list[Incident]) -> "PageContext":
        ids = [incident.pk for incident in incidents]
        why = {incident.pk: incident.description for incident in incidents}
        # A re-triggered incident (a flapping probe) pages for the reason it came back, not the
        # first one.
        for incident_id, message in (
            TimelineEvent.objects.filter(incident_id__in=ids, kind=EventKind.RETRIGGERED)
            .order_by("at", "id")
            .values_list("incident_id", "message")
        ):
            why[incident_id] = message
        paged = defaultdict(list)
        rows = (
            Notification.objects.filter(
                incident_id__in=ids, notice__isnull=True, contact__isnull=False
            )
            .exclude(status=NotificationStatus.CANCELLED)
            .order_by("pk")
            .values_list("incident_id", "escalation_round", "contact_id", "contact__name")
        )
        for incident_id, escalation_round, contact_id, name in rows:
            if all(contact_id != seen for seen, _name in paged[incident_id, escalation_round]):
                paged[incident_id, escalation_round].append((contact_id, name))
        specs = [
            spec
            for incident in incidents
            for spec in (incident.escalation_snapshot or {}).get("steps", ())
        ]
        tier_ids = {spec["tier"] for spec in specs if spec.get("tier")}
        tiers = (
            {tier.pk: str(tier) for tier in Tier.objects.filter(pk__in=tier_ids)}
            if tier_ids
            else {}
        )
        schedules = schedule_names({pk for spec in specs for pk in spec.get("schedules") or ()})
        return cls(why, dict(paged), tiers, schedules)


def gather_facts(
    incident: Incident,
    now: datetime,
    notification: Notification | None = None,
    *,
    context: PageContext | None = None,
) -> PageFacts:
    """The facts of a page about `incident`, as sent in `notification` (its step, its contact's own
    acknowledge link), or outside any step when None."""
    context = context or PageContext.load([incident])
    url, ack_url = incident_links(incident)
    facts = {}
    if notification is not None:
        steps = (incident.escalation_snapshot or {}).get("steps") or []
        spec = steps[notification.step] if notification.step < len(steps) else {}
        paged = context.paged.get((incident.pk, notification.escalation_round), [])
        facts = {
            "step": notification.step,
            "steps": len(steps),
            "repeat": notification.repeat,
            "paged_as": _paged_as(spec, context),
            "others": tuple(name for pk, name in paged if pk != notification.contact_id),
        }
        if notification.contact_id is not None:
            ack_url = acklinks.link_url(notification)
    return PageFacts(
        incident=incident.pk,
        title=incident.title,
        severity=incident.severity,
        service=incident.service.name,
        status=incident.status,
        created_at=incident.created_at,
        open_for=incident.open_for(now),
        why=redact(" ".join((context.why.get(incident.pk) or "").split()), WHY_CHARS),
        url=url,
        acknowledge_url=ack_url,
        **facts,
    )


def _paged_as(spec: dict, context: PageContext) -> str:
    names = [context.tiers[spec["tier"]]] if spec.get("tier") in context.tiers else []
    names += [
        context.schedules[pk] for pk in spec.get("schedules") or () if pk in context.schedules
    ]
    return ", ".join(names)


def build_message(facts: PageFacts) -> Message:
    """A page in the active language: the labelled facts every format shows, and the plain text
    of them."""
    severity = (
        str(Severity(facts.severity).label) if facts.severity in Severity.values else facts.severity
    )
    subject = one_line(f"[{facts.severity.upper()}] {facts.service}: {facts.title}")
    labelled = []
    if facts.why:
        labelled.append((_("Why"), facts.why))
    labelled += [
        (_("Severity"), severity),
        (_("Service"), facts.service),
        (_("Status"), status_label(facts.status)),
        (_("Open for"), format_duration(facts.open_for)),
    ]
    if facts.step is not None:
        labelled.append((_("Step"), step_label(facts)))
        labelled.append((_("Also paged"), ", ".join(facts.others) or _("nobody else yet")))
    lines = [
        subject,
        *(f"{label}: {value}" for label, value in labelled),
        _("Incident: %(url)s") % {"url": facts.url},
        _("Acknowledge: %(url)s") % {"url": facts.acknowledge_url},
    ]
    fields = {
        "event": "page",
        "incident": facts.incident,
        "title": facts.title,
        "severity": facts.severity,
        "service": facts.service,
        "status": facts.status,
        "why": facts.why,
        "created_at": facts.created_at.isoformat(),
        "open_for_seconds": int(facts.open_for.total_seconds()),
        "step": facts.step + 1 if facts.step is not None else None,
        "steps": facts.steps,
        "repeat": facts.repeat,
        "paged_as": facts.paged_as,
        "also_paged": list(facts.others),
        "url": facts.url,
        "acknowledge_url": facts.acknowledge_url,
    }
    return Message(
        subject=subject,
        text="\n".join(lines),
        url=facts.url,
        acknowledge_url=facts.acknowledge_url,
        severity=severity,
        fields=fields,
        facts=tuple(labelled),
    )


def step_label(facts: PageFacts) -> str:
    """ "2 of 3 · Tier 2: Developers" (and the repeat, for a repeated last step)."""
    label = _("%(step)d of %(steps)d") % {
        "step": facts.step + 1,
        "steps": max(facts.steps, facts.step + 1),
    }
    if facts.repeat:
        label += " · " + _("repeat %(repeat)d") % {"repeat": facts.repeat}
    return f"{label} · {facts.paged_as}" if facts.paged_as else label


def resolution_message(incident: Incident, *, resolved_by: str, now: datetime) -> dict:
    """The resolution notice to someone a page reached, in the active language, as
    Notification.message stores it (the outbox sends it as written)."""
    url = incident_links(incident)[0]
    subject = one_line(
        _("[Resolved] [%(severity)s] %(service)s: %(title)s")
        % {
            "severity": incident.severity.upper(),
            "service": incident.service.name,
            "title": incident.title,
        }
    )
    facts = [
        (_("Resolved"), formats.date_format(timezone.localtime(now), "DATETIME_FORMAT")),
        (_("Resolved by"), resolved_by or _("automatically")),
        (_("Open for"), format_duration(now - incident.created_at)),
    ]
    text = "\n".join(
        [
            subject,
            *(f"{label}: {value}" for label, value in facts),
            _("Incident: %(url)s") % {"url": url},
        ]
    )
    return {
        "subject": subject,
        "text": text,
        "url": url,
        "facts": facts,
        "fields": {
            "notice": "resolved",
            "event": "resolved",
            "incident": incident.pk,
            "title": incident.title,
            "severity": incident.severity,
            "service": incident.service.name,
            "status": "resolved",
            "resolved_at": now.isoformat(),
            "resolved_by": resolved_by,
            "open_for_seconds": int((now - incident.created_at).total_seconds()),
            "url": url,
            "link_title": _("Open incident"),
            "language": translation.get_language(),
        },
    }


def stored_message(stored: dict) -> Message:
    """A notice's message as it was written when it was queued (Notification.message)."""
    url = stored.get("url", "")
    return Message(
        subject=stored.get("subject", ""),
        text=stored.get("text", ""),
        url=url,
        acknowledge_url=url,
        severity=stored.get("severity", ""),
        fields=stored.get("fields", {}),
        facts=tuple(tuple(fact) for fact in stored.get("facts", ())),
    )


def send_email(target: str, message: Message) -> None:
    # A header that cannot be written is a rendering problem, never a reason to lose the page.
    EmailMessage(subject=one_line(message.subject), body=message.text, to=[target]).send(
        fail_silently=False
    )


def _post(url: str, payload: dict, message: Message, headers: dict | None = None) -> None:
    headers = {**(headers or {}), "Content-Type": "application/json"}
    if message.idempotency_key:
        headers["Idempotency-Key"] = message.idempotency_key
    check_url(url, resolve=True)
    with requests.post(
        url,
        data=json.dumps(payload),
        timeout=WEBHOOK_TIMEOUT,
        headers=headers,
        allow_redirects=False,
        stream=True,
        hooks={"response": guard_response},
    ) as response:
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
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD,
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": ADAPTIVE_CARD_VERSION,
                    "msteams": {"width": "Full"},
                    "body": body,
                    "actions": actions,
                },
            }
        ],
    }


def open_url(title: str, url: str) -> dict:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def status_label(status: str) -> str:
    """An incident status as the reader's language says it ("triggered" → "발생")."""
    return str(Status(status).label) if status in Status.values else status


def page_facts(message: Message) -> list[tuple[str, str]]:
    """What a card shows of a page, in the reader's language: the facts build_message wrote, or
    for a message built elsewhere (a reminder) the ones its fields hold."""
    return list(message.facts) or [
        (_("Severity"), message.severity),
        (_("Service"), message.fields.get("service", "")),
        (_("Status"), status_label(message.fields.get("status", ""))),
        (_("Open for"), format_duration(message.fields.get("open_for_seconds", 0))),
    ]


def notice_link_title(message: Message) -> str:
    return (
        message.fields.get("link_title")
        or message.fields.get("link_label")
        or _("Open status page")
    )


def send_teams(target: str, message: Message) -> None:
    title = {
        "type": "TextBlock",
        "text": teams_text(message.subject),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    if message.fields.get("notice"):
        # A notice (see Notification.notice) is its text, with no page facts or acknowledge button.
        # A TextBlock breaks a line at a blank line only.
        text = {
            "type": "TextBlock",
            "text": teams_text(message.text).replace("\n", "\n\n"),
            "wrap": True,
        }
        _post(
            target,
            adaptive_card([title, text], [open_url(notice_link_title(message), message.url)]),
            message,
        )
        return
    title["color"] = (
        "Attention" if message.fields.get("severity") in ("sev1", "sev2") else "Warning"
    )
    _post(
        target,
        adaptive_card(
            [
                title,
                {
                    "type": "FactSet",
                    "facts": [
                        {"title": name, "value": teams_text(str(value))}
                        for name, value in page_facts(message)
                    ],
                },
            ],
            [
                open_url(_("Open incident"), message.url),
                open_url(_("Acknowledge"), message.acknowledge_url),
            ],
        ),
        message,
    )


def card(message: Message) -> korean_channels.Card:
    """A page or notice as the messengers' builders take it (incidents.korean_channels)."""
    if message.fields.get("notice"):
        return korean_channels.Card(
            title=one_line(message.subject),
            text=message.text,
            links=[(notice_link_title(message), message.url)],
        )
    return korean_channels.Card(
        title=one_line(message.subject),
        severity=message.fields.get("severity", ""),
        facts=page_facts(message),
        links=[(_("Open incident"), message.url), (_("Acknowledge"), message.acknowledge_url)],
    )


def send_jandi(target: str, message: Message) -> None:
    _post(
        target, korean_channels.jandi(card(message)), message, headers=korean_channels.JANDI_HEADERS
    )


def send_dooray(target: str, message: Message) -> None:
    _post(target, korean_channels.dooray(card(message)), message)


def send_kakaowork(target: str, message: Message) -> None:
    _post(target, korean_channels.kakaowork(card(message)), message)


def send_webhook(target: str, message: Message) -> None:
    _post(
        target,
        {**message.fields, "text": message.text, "idempotency_key": message.idempotency_key},
        message,
    )


def send_apprise(target: str, message: Message) -> None:
    apprise_channels.send(target, message.text, message.subject, WEBHOOK_TIMEOUT)


def send_sms(target: str, message: Message) -> None:
    """A text message: the title, why, the step and who else was paged as far as they fit, then
    the links the reader needs on a phone (acknowledge, open)."""
    links = (
        [message.url] if message.fields.get("notice") else [message.acknowledge_url, message.url]
    )
    facts = dict(message.facts)
    words = [
        one_line(message.subject),
        *(
            one_line(f"{label}: {facts[label]}")
            for label in (_("Why"), _("Step"), _("Also paged"))
            if facts.get(label)
        ),
    ]
    room = apprise_channels.SMS_CHARS - sum(len(link) + 1 for link in links)
    head = " · ".join(words)
    if len(head) > room:
        head = head[: max(room - 1, 0)] + "…"
    apprise_channels.send(target, "\n".join([head, *links]), "", WEBHOOK_TIMEOUT)


SENDERS = {
    "email": send_email,
    "slack": send_slack,
    "teams": send_teams,
    "webhook": send_webhook,
    "apprise": send_apprise,
    "sms": send_sms,
    "jandi": send_jandi,
    "dooray": send_dooray,
    "kakaowork": send_kakaowork,
}


def recipient_language(notification) -> str:
    """The language a notification is written in: the one it was queued in, else its contact's
    user's choice, else the default."""
    if language := (notification.message or {}).get("language"):
        return language
    contact = notification.contact
    return language_of(contact.user if contact is not None else None)


# How deliver() writes the errors of a request that may have reached the receiver before it timed
# out: requests' read timeout, and a socket timeout (an SMTP server that took the message and went
# quiet).
TIMED_OUT = ("ReadTimeout:", "TimeoutError:")


def timed_out(error: str) -> bool:
    return error.startswith(TIMED_OUT)


def deliver(notification: Notification, message: Message) -> str:
    """Send one notification; the error text, or "" on success. Never raises."""
    try:
        # A sender's own labels (a Teams card's field names) speak the message's language too.
        key = f"{notification._meta.model_name}-{notification.pk}"
        with translation.override(recipient_language(notification)):
            SENDERS[notification.kind](notification.target, replace(message, idempotency_key=key))
    except Exception as exc:  # a broken channel must never break the sweep or the other channels
        error = failure_text(exc, notification.kind, notification.target)
        logger.warning(
            "notification %s to %s failed: %s", notification.pk, notification.shown_target, error
        )
        return error
    return ""


def failure_text(exc: Exception, kind: str, target: str) -> str:
    # requests quotes the URL in its errors ("… for url: https://hooks…/T0/B0/secret"), urllib3 its
    # path alone ("Max retries exceeded with url: /T0/B0/secret"): the stored error, the timeline
    # and the log get the masked form. scrub knows a webhook's pieces by its mask function.
    mask = (
        mask_webhook
        if shown_target(kind, target) == mask_webhook(target)
        else (lambda t: shown_target(kind, t))
    )
    return scrub(f"{type(exc).__name__}: {exc}", target, mask)[:1000] or "error"


def send_test_message(channel: NotificationChannel, *, by=None) -> str:
    """Send a test message through the channel's own sender, now; the masked error, or "" when it
    was sent.

    It is a notice (no incident, no acknowledge link) in the contact's language, so that whoever set
    the channel up sees the message arrive and the person it pages can read it.
    """
    url = settings.BASE_URL + "/"
    with translation.override(language_of(channel.contact.user)):
        message = Message(
            subject=_("Test message from the ops portal"),
            text="\n".join(
                [
                    _("Pages for %(contact)s reach this channel (%(kind)s).")
                    % {"contact": channel.contact.name, "kind": channel.get_kind_display()},
                    _("Sent by %(user)s to check the channel; nothing needs to be done.")
                    % {"user": by.get_username() if by is not None else _("the portal")},
                    _("Portal: %(url)s") % {"url": url},
                ]
            ),
            url=url,
            acknowledge_url=url,
            severity="",
            fields={"notice": "test", "link_title": _("Open the portal")},
            idempotency_key=f"channel-test-{uuid.uuid4()}",
        )
        try:
            SENDERS[channel.kind](channel.target, message)
        except Exception as exc:  # the result is shown to the manager who asked, never raised
            error = failure_text(exc, channel.kind, channel.target)
            logger.warning(
                "test message to channel %s (%s) failed: %s",
                channel.pk,
                channel.shown_target,
                error,
            )
            return error
    logger.info("test message sent to channel %s (%s)", channel.pk, channel.shown_target)
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
    pages = [n for n in claimed if not n.notice]
    context = (
        PageContext.load(list({n.incident_id: n.incident for n in pages}.values()))
        if pages
        else None
    )
    jobs = []
    for notification in claimed:
        if notification.notice:
            jobs.append((notification, stored_message(notification.message or {})))
            continue
        facts = gather_facts(notification.incident, now, notification, context=context)
        with translation.override(recipient_language(notification)):
            jobs.append((notification, build_message(facts)))
    if len(jobs) == 1:
        errors = [deliver(*jobs[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(jobs))) as pool:
            errors = list(pool.map(lambda job: deliver(*job), jobs))
    _record(claimed, errors, now)
    _escalate_failed_steps(
        {
            (n.incident_id, n.escalation_round, n.step, n.repeat)
            for n in claimed
            if n.status == NotificationStatus.FAILED and not n.notice
        },
        now,
    )
    return len(claimed)


def _escalate_failed_steps(failed: set[tuple[int, int, int, int]], now: datetime) -> None:
    """A step whose every page has failed for good pages the next step at once (and says so in
    red on the timeline) instead of leaving the incident with nobody told until the next step's
    time."""
    # escalation imports this module (the pager sends its pages through send_pending).
    from incidents.escalation import escalate_after_failed_step

    if not failed:
        return
    rows = defaultdict(list)
    for *key, status, name, kind, error in (
        Notification.objects.filter(incident_id__in={key[0] for key in failed}, notice__isnull=True)
        .order_by("pk")
        .values_list(
            "incident_id",
            "escalation_round",
            "step",
            "repeat",
            "status",
            "contact__name",
            "kind",
            "last_error",
        )
    ):
        rows[tuple(key)].append((status, name, kind, error))
    paged = []
    for key in sorted(failed):
        if not all(status == NotificationStatus.FAILED for status, *_rest in rows[key]):
            continue
        failures = [
            {
                "who": f"{name or '–'} ({kind})",
                "contact": name,
                "kind": kind,
                "error": redact(error, ERROR_BODY_CHARS),
            }
            for _status, name, kind, error in rows[key]
        ]
        incident_id, escalation_round, step, repeat = key
        if escalate_after_failed_step(
            incident_id=incident_id,
            escalation_round=escalation_round,
            step=step,
            repeat=repeat,
            failures=failures,
            now=now,
        ):
            paged.append(incident_id)
    if paged:
        send_pending(now=now, incident_ids=paged)


def retry_notifications(*, now: datetime | None = None) -> int:
    """Cancel sends that no longer matter, then (re)send every due pending one."""
    now = now or timezone.now()
    Notification.objects.stale().update(status=NotificationStatus.CANCELLED, next_attempt_at=None)
    return send_pending(now=now)


def _claim(now: datetime, incident_ids, limit: int) -> list[Notification]:
    due = Notification.objects.due(now)
    if incident_ids is not None:
        due = due.filter(incident_id__in=incident_ids)
    ids = list(
        due.exclude(pk__in=Notification.objects.stale())
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    # The update re-checks "still due" row by row under the row lock
    # (PostgreSQL) or the database write lock (SQLite): of two workers that read
    # the same ids, only the first takes each row. Pushing next_attempt_at out is the lease.
    token = uuid.uuid4()
    Notification.objects.due(now).filter(pk__in=ids).update(
        claim=token, next_attempt_at=now + SEND_LEASE
    )
    return list(
        Notification.objects.filter(pk__in=ids, claim=token)
        .select_related("incident__service", "contact__user__preference")
        .order_by("pk")
    )


def _record(claimed: list[Notification], errors: list[str], now: datetime) -> None:
    events = []
    for notification, error in zip(claimed, errors, strict=True):
        notification.attempts += 1
        notification.claim = None
        who = notification.contact.name if notification.contact else notification.shown_target
        data = {
            "notification": notification.pk,
            "contact": notification.contact_id,
            "kind": notification.kind,
            "who": who,
            "step": notification.step,
            "repeat": notification.repeat,
            "attempts": notification.attempts,
        }
        if notification.purpose == Purpose.REMINDER:
            data["reason"] = (notification.message or {}).get("fields", {}).get("reminder", "")
            data["variant"] = "reminder"
        if not error:
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.next_attempt_at = None
            notification.last_error = ""
            # Pages and reminders are on the timeline per send; a notice once, where it was queued,
            # not per subscriber; a routed event is no part of the incident's story.
            if notification.incident_id and (
                notification.notice is None or notification.purpose == Purpose.REMINDER
            ):
                events.append(
                    TimelineEvent(
                        incident_id=notification.incident_id,
                        at=now,
                        data=data,
                        kind=EventKind.NOTIFICATION_SENT,
                    )
                )
            continue
        # A request that timed out may have been processed by the receiver: it is tried once more
        # (under the same Idempotency-Key), never again after that.
        retried_timeout = timed_out(notification.last_error)
        notification.last_error = error
        if notification.attempts >= MAX_ATTEMPTS or retried_timeout:
            notification.status = NotificationStatus.FAILED
            notification.next_attempt_at = None
            if not notification.incident_id:
                logger.warning(
                    "message %s (%s) to %s failed for good: %s",
                    notification.pk,
                    notification.notice,
                    notification.shown_target,
                    error,
                )
                continue
            events.append(
                TimelineEvent(
                    incident_id=notification.incident_id,
                    at=now,
                    data={**data, "error": error, "timed_out": retried_timeout},
                    kind=EventKind.NOTIFICATION_FAILED,
                )
            )
        else:
            notification.next_attempt_at = now + backoff(notification.attempts)
    sent = [n.pk for n in claimed if n.status == NotificationStatus.SENT]
    unsent = [n for n in claimed if n.status != NotificationStatus.SENT]
    with transaction.atomic():
        # Successes, the common case, share their values: one plain UPDATE is far
        # cheaper than bulk_update's CASE per row (which SQLite also splits).
        if sent:
            Notification.objects.filter(pk__in=sent).update(
                status=NotificationStatus.SENT,
                attempts=F("attempts") + 1,
                sent_at=now,
                last_error="",
                next_attempt_at=None,
                claim=None,
            )
        if unsent:
            Notification.objects.bulk_update(
                unsent, ["status", "attempts", "last_error", "next_attempt_at", "claim"]
            )
        TimelineEvent.objects.bulk_create(events)
