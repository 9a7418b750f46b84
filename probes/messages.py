"""What a failed check says, in words an on-call person reads, in the reader's language.

A check that fails for a known reason returns a message code and its parameters with the result
(and the raw detail: the library's own words, shown behind a disclosure); pages render the code at
display time, so a Korean reader reads Korean whatever language the worker ran in. The stored
`message` stays as the check wrote it: the API, incident descriptions and old rows use it.
"""

import errno
import json
import socket
import ssl

import requests
import urllib3
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# code → message with %(name)s parameters.
MESSAGES = {
    "refused": _("connection refused"),
    "timeout": _("timed out after %(seconds)s s"),
    "tls_expired": _("TLS certificate expired"),
    "tls_untrusted": _("TLS certificate not trusted"),
    "tls_error": _("TLS handshake failed"),
    "dns": _("host name not found"),
    "reset": _("connection reset by the server"),
    "unreachable": _("network unreachable"),
    "connect": _("connection failed"),
    "redirects": _("too many redirects (a redirect loop?)"),
    "http_status": _("HTTP %(code)s, expected %(expected)s"),
    "json_equal": _("JSON field %(field)s is %(actual)s, expected %(expected)s"),
    "json_in": _("JSON field %(field)s is %(actual)s, expected one of %(expected)s"),
    "json_compare": _("JSON field %(field)s is %(actual)s, expected %(op)s %(expected)s"),
    "json_missing": _("JSON field %(field)s is missing"),
}


def render(code: str, params: dict | None, fallback: str = "") -> str:
    """The message in the active language; `fallback` (the stored text) for an unknown or broken
    code."""
    template = MESSAGES.get(code or "")
    if template is None:
        return fallback
    try:
        return gettext(str(template)) % (params or {})
    except (KeyError, TypeError, ValueError):
        return fallback


def _causes(exc: BaseException):
    """The exception and what it wraps: requests → urllib3's MaxRetryError.reason → the socket's
    error."""
    seen, queue = set(), [exc]
    while queue and len(seen) < 20:
        current = queue.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        queue += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        queue += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]


def classify(exc: BaseException, *, timeout: float | None = None) -> tuple[str, dict]:
    """(code, params) for a failed connection, ("", {}) when it is none of the known reasons."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            if "expired" in (cause.verify_message or str(cause)).lower():
                return "tls_expired", {}
            return "tls_untrusted", {}
    # The socket's own error first: urllib3's NewConnectionError is a ConnectTimeoutError too.
    for cause in causes:
        if isinstance(cause, requests.TooManyRedirects):
            return "redirects", {}
        if isinstance(cause, ConnectionRefusedError):
            return "refused", {}
        if isinstance(cause, socket.gaierror | urllib3.exceptions.NameResolutionError):
            return "dns", {}
        if isinstance(cause, ConnectionResetError):
            return "reset", {}
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "unreachable", {}
    for cause in causes:
        if isinstance(cause, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
            return "timeout", {"seconds": _seconds(timeout)}
        if isinstance(cause, ssl.SSLError):
            return "tls_error", {}
    if isinstance(exc, requests.ConnectionError | OSError):
        return "connect", {}
    return "", {}


def _seconds(timeout: float | None) -> str:
    if timeout is None:
        return "?"
    return f"{timeout:g}"


def expectation_failed(
    path: str, op: str, expected, actual, *, missing: bool = False
) -> tuple[str, dict]:
    """(code, params) for a JSON expectation the document does not meet."""
    if missing:
        return "json_missing", {"field": path}
    shown = _shown(actual) if not isinstance(actual, str) else actual
    if op in ("in", "not in") and isinstance(expected, list):
        values = ", ".join(v if isinstance(v, str) else _shown(v) for v in expected)
        if op == "in":
            return "json_in", {"field": path, "actual": shown[:100], "expected": values[:200]}
        return "json_compare", {
            "field": path,
            "actual": shown[:100],
            "op": "not in",
            "expected": f"[{values}]"[:200],
        }
    value = expected if isinstance(expected, str) else json.dumps(expected)
    if op == "==":
        return "json_equal", {"field": path, "actual": shown[:100], "expected": value[:200]}
    return "json_compare", {"field": path, "actual": shown[:100], "op": op, "expected": value[:200]}


def _shown(value) -> str:
    return json.dumps(value)
