"""The messengers Korean teams read, which Apprise has no plugin for: their incoming-webhook JSON.

Each builder turns a Card (what a page or notice says: a title, facts, links) into the payload
that service documents; incidents.notify posts it (notify.SENDERS). The shapes, from each
service's own guide (samples kept in tests/fixtures/channels/):

`jandi`      JANDI incoming webhook, POST https://wh.jandi.com/connect-api/webhook/<team>/<token>
             with `Accept: application/vnd.tosslab.jandi-v2+json`:
             {"body", "connectColor", "connectInfo": [{"title", "description", "imageUrl"?}]};
             `body` reads [text](url) links.
`dooray`     Dooray! messenger incoming hook, POST https://hook.dooray.com/services/<…>/<…>/<token>
             (or an organisation's own *.dooray.com / *.gov-dooray.com host):
             {"botName", "botIconImage"?, "text",
              "attachments": [{"title", "titleLink", "text", "color"}]}.
`kakaowork`  KakaoWork bot incoming webhook, POST https://kakaowork.com/bots/hook/<key>:
             {"text", "blocks": [Block Kit blocks]}; `text` is the preview a phone shows.

A target is the service's own hook URL (the host and path shape above, over HTTPS), or an address
on this machine (127.0.0.1, ::1, localhost) over http or https: a local relay, or the test
receivers. The existing kinds take any http(s) URL, loopback included; these only add the
service's own shape, so that a URL pasted into the wrong kind is refused when it is saved.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

JANDI_HEADERS = {"Accept": "application/vnd.tosslab.jandi-v2+json"}
BOT_NAME = "Ops portal"

# JANDI and Dooray! read colour as a bar beside the message.
JANDI_COLORS = {"sev1": "#D32F2F", "sev2": "#F57C00", "sev3": "#FBC02D", "sev4": "#1976D2"}
DOORAY_COLORS = {"sev1": "red", "sev2": "orange", "sev3": "yellow", "sev4": "blue"}
NOTICE_COLOR = ("#607D8B", "green")

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
HOOK_URLS = {
    "jandi": (lambda host: host == "wh.jandi.com", re.compile(r"/connect-api/webhook/\d+/\w+/?")),
    "dooray": (
        lambda host: host == "dooray.com" or host.endswith((".dooray.com", ".gov-dooray.com")),
        re.compile(r"/services/\d+/\d+/[\w-]+/?"),
    ),
    "kakaowork": (lambda host: host == "kakaowork.com", re.compile(r"/bots/hook/\w+/?")),
}


@dataclass(frozen=True)
class Card:
    title: str
    severity: str = ""  # sev1 … sev4; empty for a notice
    text: str = ""  # a notice's text (a page says what it has to say in facts)
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def target_error(kind: str, target: str) -> str:
    """Why `target` cannot be this kind's hook URL; "" when it can (or the kind is not one of
    these)."""
    if kind not in HOOK_URLS:
        return ""
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        host, parts = "", None
    if parts is not None and host in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return ""
    host_ok, path = HOOK_URLS[kind]
    if (
        parts is not None
        and parts.scheme == "https"
        and host_ok(host)
        and path.fullmatch(parts.path)
    ):
        return ""
    return {
        "jandi": _(
            "Enter a JANDI incoming webhook URL: https://wh.jandi.com/connect-api/webhook/…"
        ),
        "dooray": _("Enter a Dooray! incoming hook URL: https://hook.dooray.com/services/…"),
        "kakaowork": _("Enter a KakaoWork bot webhook URL: https://kakaowork.com/bots/hook/…"),
    }[kind]


def plain(text: str) -> str:
    """JANDI and Dooray! read [label](url) as a link: a title typed with one shows as typed."""
    return text.replace("](", "]\u200b(")


def jandi(card: Card) -> dict:
    links = " · ".join(f"[{plain(label)}]({url})" for label, url in card.links)
    body = "\n".join(part for part in (plain(card.title), plain(card.text), links) if part)
    info = [
        {"title": plain(name), "description": plain(value)} for name, value in card.facts if value
    ]
    payload = {"body": body, "connectColor": JANDI_COLORS.get(card.severity, NOTICE_COLOR[0])}
    if info:
        payload["connectInfo"] = info
    return payload


def dooray(card: Card) -> dict:
    color = DOORAY_COLORS.get(card.severity, NOTICE_COLOR[1])
    facts = "\n".join(f"{plain(name)}: {plain(value)}" for name, value in card.facts if value)
    first_url = card.links[0][1] if card.links else ""
    attachments = [
        {
            "title": plain(card.title),
            "titleLink": first_url,
            "text": facts or plain(card.text),
            "color": color,
        }
    ]
    attachments += [
        {"title": plain(label), "titleLink": url, "text": "", "color": color}
        for label, url in card.links[1:]
    ]
    return {"botName": BOT_NAME, "text": plain(card.title), "attachments": attachments}


def kakaowork(card: Card) -> dict:
    # Block Kit text with "markdown": false shows every character as typed.
    blocks = [{"type": "text", "text": card.title, "markdown": False}]
    if card.text:
        blocks.append({"type": "text", "text": card.text, "markdown": False})
    blocks += [
        {
            "type": "description",
            "term": name,
            "accent": True,
            "content": {"type": "text", "text": value, "markdown": False},
        }
        for name, value in card.facts
        if value
    ]
    blocks += [
        {
            "type": "button",
            "text": label,
            "style": "primary" if i else "default",
            "action": {"type": "open_system_browser", "value": url},
        }
        for i, (label, url) in enumerate(card.links)
    ]
    return {"text": card.title, "blocks": blocks}
