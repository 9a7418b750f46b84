"""One-click acknowledge links: one per page sent, signed, expiring, and good for one
acknowledgement.

The token names the notification it was sent in, and so its incident and contact; it is signed with
the project's SECRET_KEY under its own salt (a token of another purpose does not verify here) and
carries its time of signing, so it expires. Opening the link only shows a confirmation page: the
acknowledgement is a POST from it, so a mail scanner that follows links acknowledges nothing.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "incidents.acknowledge-link"


class BadLink(Exception):
    """A link that acknowledges nothing; `reason` is "expired" or "invalid"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AckLink:
    notification_id: int
    incident_id: int
    contact_id: int


def max_age() -> timedelta:
    return timedelta(seconds=settings.PORTAL_ACK_LINK_MAX_AGE)


def signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def make_token(notification) -> str:
    return signer().sign_object(
        {"n": notification.pk, "i": notification.incident_id, "c": notification.contact_id}
    )


def link_url(notification) -> str:
    """The absolute one-click link of one notification (a page to a contact)."""
    return settings.BASE_URL + reverse("incidents:ack-link", args=[make_token(notification)])


def read_token(token: str) -> AckLink:
    try:
        data = signer().unsign_object(token, max_age=max_age())
    except signing.SignatureExpired as exc:
        raise BadLink("expired") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadLink("invalid") from exc
    try:
        return AckLink(int(data["n"]), int(data["i"]), int(data["c"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadLink("invalid") from exc
