"""Small pieces of the login throttling set-up (settings.AXES_*)."""

from django.conf import settings


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
