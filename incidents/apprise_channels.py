"""Channels sent through Apprise (https://github.com/caronc/apprise), one library for ~100 services.

`apprise`: any Apprise URL (ntfy://, tgram://, discord://, matrix://, pover://, …). `sms`: an HTTP
SMS gateway, written as Apprise's own generic form/JSON/XML URL: the gateway's address, with
`:field=value` for its fixed fields (sender, receiver, API key) and `:message=name` naming the field
that takes the text, e.g. `forms://sms.example.com/send?:key=K&:to=01012345678&:message=msg`.

Outbound checks (core.outbound): the host named in the URL is checked when the channel is
saved and, after DNS, before each send. Apprise makes its own connections, so the per-hop peer check
our own webhooks get (guard_response) is not available here.
"""

import logging
import re
from urllib.parse import unquote, urlsplit

from django.utils.translation import gettext as _

from core.outbound import check_host

SMS_SCHEMES = ("form", "forms", "json", "jsons", "xml", "xmls")
SMS_CHARS = 320  # two SMS segments, or one LMS: the title and the acknowledge link fit


class AppriseError(Exception):
    pass


def plugin_for(target: str):
    """The Apprise plugin for a URL, or None when Apprise does not know it."""
    # Imported here: loading Apprise takes about half a second, which every process (manage.py, each
    # worker) would pay at start through incidents.models, for channels few portals use.
    import apprise

    return apprise.Apprise.instantiate(target, suppress_exceptions=True)


def target_error(kind: str, target: str) -> str:
    """Why `target` cannot be this kind's address; "" when it can."""
    scheme = target.partition("://")[0].lower() if "://" in target else ""
    if kind == "sms" and scheme not in SMS_SCHEMES:
        return _(
            "Enter the gateway as an Apprise form://, json:// or xml:// URL (forms://, jsons://, "
            "xmls:// for HTTPS)."
        )
    if plugin_for(target) is None:
        return _("Apprise does not recognise this URL.")
    return ""


def secret_parts(target: str) -> list[str]:
    """The pieces of an Apprise URL that may be credentials (a bot token is the "host" of tgram://),
    longest first, to mask in an error text."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return [target]
    pieces = [parts.netloc, parts.username or "", parts.password or "", parts.hostname or ""]
    pieces += [unquote(p) for p in re.split(r"[/&=?]", f"{parts.path}?{parts.query}")]
    return sorted({p for p in pieces if len(p) >= 6}, key=len, reverse=True)


def send(target: str, text: str, title: str, timeout: tuple[float, float]) -> None:
    plugin = plugin_for(target)
    if plugin is None:
        raise AppriseError(_("Apprise does not recognise this URL."))
    check_host(getattr(plugin, "host", "") or "", resolve=True)
    plugin.socket_connect_timeout, plugin.socket_read_timeout = timeout
    import apprise

    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        sent = plugin.notify(body=text, title=title, body_format=apprise.NotifyFormat.TEXT)
    if sent:
        return
    error = " ".join(captured.getvalue().split())
    for piece in secret_parts(target):
        error = error.replace(piece, "•••")
    raise AppriseError(error[:300] or _("Apprise could not deliver the message."))
