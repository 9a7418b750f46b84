"""Logs carry no credentials: a heartbeat's ping URL is its token, so is an on-call
calendar feed's (`/feed/<token>.ics`), and a query
parameter named like a secret (token=, api_key=…) is one too.

`MaskSecrets` is a logging filter on the console handler (Django's request and
server logs pass through it); `GunicornLogger` is what `manage.py serve` gives
gunicorn (`--logger-class`), so its access and error logs are masked the same way.
"""

import logging
import re

from gunicorn import glogging

from core.secrets import MASK, SECRET_WORDS

HEARTBEAT_TOKEN = re.compile(r"(/heartbeats/)[^/?#\s\"']+")
FEED_TOKEN = re.compile(r"(/feed/)[^/?#\s\"']+?(\.ics)?(?=[/?#\s\"']|$)")
SECRET_WORDS_RE = "|".join(SECRET_WORDS)
SECRET_QUERY_VALUE = re.compile(
    rf"([?&;][^=&\s\"']*(?:{SECRET_WORDS_RE})[^=&\s\"']*=)[^&#\s\"']+", re.IGNORECASE
)


def mask_log_text(text: str) -> str:
    text = HEARTBEAT_TOKEN.sub(rf"\g<1>{MASK}", text)
    text = FEED_TOKEN.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2) or ''}", text)
    return SECRET_QUERY_VALUE.sub(rf"\g<1>{MASK}", text)


class MaskSecrets(logging.Filter):
    """Rewrites a record's message with its secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


MASK_SECRETS = MaskSecrets()


class GunicornLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again on every reload; addFilter ignores a filter it already has.
        self.error_log.addFilter(MASK_SECRETS)
        self.access_log.addFilter(MASK_SECRETS)
