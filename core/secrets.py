"""Secrets are written, never shown back.

Webhook URLs (their path is the credential), connection strings with a
password, URLs with user:password@ and credential headers are masked in pages,
API output, the admin and logs. A masked value sent back unchanged (a form or
a PUT that round-trips what it was shown) keeps the stored secret:
`keep_stored(new, old, mask)`. At rest they are encrypted (core.fields).
"""

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "•••"

SECRET_WORDS = (
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "session",
    "cookie",
    "signature",
    "sig",
)


def is_secret_name(name: str) -> bool:
    name = name.lower()
    return any(word in name for word in SECRET_WORDS)


def _split(url: str):
    try:
        parts = urlsplit(url)
        # reading .port raises on a malformed one
        valid_port = parts.port is None or parts.port >= 0
    except ValueError:
        return None
    return parts if valid_port and parts.scheme and parts.netloc else None


def mask_url(url: str) -> str:
    """user:password@ → user:•••@ and secret-looking query values → •••; the rest stays readable."""
    parts = _split(url)
    if parts is None:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _at, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{host}"
    query = (
        "&".join(
            f"{name}={MASK}"
            if found and is_secret_name(unquote_plus(name))
            else f"{name}{found}{value}"
            for name, found, value in (pair.partition("=") for pair in parts.query.split("&"))
        )
        if parts.query
        else ""
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_webhook(url: str) -> str:
    """Only scheme and host: a Slack, Teams or generic webhook's path and query are its
    credential."""
    parts = _split(url)
    if parts is None:
        return MASK if url else url
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/{MASK}"


KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """postgres://user:•••@host/db, or password=••• in a keyword connection string."""
    if "://" in dsn:
        return mask_url(dsn)
    return KEYWORD_PASSWORD.sub(lambda m: m.group(1) + MASK, dsn)


def mask_headers(headers: dict) -> dict:
    return {
        name: MASK if is_secret_name(name) else value for name, value in (headers or {}).items()
    }


def scrub(text: str, secret: str, mask) -> str:
    """`text` (an error message, a log line) with `secret` shown as `mask` shows it.

    Libraries also quote pieces of a URL on their own ("Max retries exceeded
    with url: /services/…"), so the credential pieces are replaced too.
    """
    if not secret or not text:
        return text
    text = text.replace(secret, mask(secret))
    parts = _split(secret)
    if parts is None:
        if mask is mask_dsn:
            for match in KEYWORD_PASSWORD.finditer(secret):
                text = text.replace(match.group(2), MASK)
        return text
    if parts.password:
        text = text.replace(parts.password, MASK)
    masked = _split(mask(secret))
    if mask is mask_webhook:
        pieces = [
            (parts.path + ("?" + parts.query if parts.query else ""), "/" + MASK),
            (parts.path, "/" + MASK),
        ]
    elif masked is not None and masked.query != parts.query:
        pieces = [
            (parts.path + "?" + parts.query, masked.path + "?" + masked.query),
            (parts.query, masked.query),
        ]
    else:
        pieces = []
    for piece, replacement in pieces:
        if piece.strip("/?"):
            text = text.replace(piece, replacement)
    return text


def mask_token(token) -> str:
    """A bare credential (a heartbeat's ping token): its last four characters."""
    text = str(token or "")
    return f"{MASK}{text[-4:]}" if text else ""


def keep_stored(new, old, mask):
    """The stored value unless a new one was typed: `new` exactly as `mask` showed `old` keeps
    `old`."""
    if old is not None and new == mask(old) and new != old:
        return old
    return new


# `name=value`, `name: value`, `"name": "value"`: the value of a secret-looking name, up to the next
# separator. The name may be quoted (JSON) and the value too.
REDACTED_WORDS = "|".join((*SECRET_WORDS, "api_key", "apikey", "pwd", "credential", "bearer"))
SECRET_PAIR = re.compile(
    r"""(?P<name>["']?[\w.-]*(?:""" + REDACTED_WORDS + r""")[\w.-]*["']?\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&"'}\]]+)""",
    re.IGNORECASE,
)
BEARER = re.compile(r"(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def redact(text: str, limit: int = 300) -> str:
    """`text` (a response body, a scraped line, an error) fit to show to people: the values of
    `key=value` / `key: value` pairs whose key looks secret masked, and at most `limit`
    characters."""
    if not text:
        return text
    text = BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = SECRET_PAIR.sub(lambda m: m["name"] + MASK, text)
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text
