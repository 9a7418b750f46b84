"""Small pieces of the login throttling set-up (settings.AXES_*)."""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.db.models import Sum


def client_ip(request) -> str:
    """The address login failures are counted against.

    Behind the TLS proxy (PORTAL_HTTPS) every request comes from the proxy, so
    the client is the right-most X-Forwarded-For entry: the one the proxy
    appended, which a client cannot forge. Without a proxy the header is
    anybody's to write, so only the socket address counts.
    """
    if settings.HTTPS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


class LoginAttemptHandler(AxesDatabaseHandler):
    """axes' database handler with two limits where axes has one.

    AXES_LOCKOUT_PARAMETERS lists [username, address] first and the address
    alone second. axes compares the larger of their failure counts with one
    limit (AXES_FAILURE_LIMIT), so password spraying (one failure per username
    from one address) would be locked after a handful of tries, and a whole
    office behind one NAT with it. Here the address counts against its own,
    larger limit (PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT) and a pair against axes' limit.
    """

    def get_failures(self, request, credentials=None) -> int:
        by_pair, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(by_pair, get_failure_limit(request, credentials))
        return by_pair

    def reset_user_attempts(self, request, credentials=None) -> int:
        # A successful login forgives its own username's failures, not those of every
        # username tried from the address: a sprayer who owns one account must not reset the count.
        by_pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = by_pair.delete()
        return count
