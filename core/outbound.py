"""Where the portal may connect: not to link-local or cloud-metadata addresses.

A probe or a webhook pointed at 169.254.169.254 would hand the cloud instance's
credentials to whoever reads the result or the error. Refused when the target is
saved (a literal address or a metadata host name), and again when it is used:
after DNS, at every redirect and on the socket actually connected (DNS can
answer differently the second time). PORTAL_ALLOW_LINK_LOCAL=true lifts it for
a portal that must watch a link-local device.
"""

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

METADATA_HOSTS = {"metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"}
REFUSED_NETWORKS = [
    # link-local; 169.254.169.254 is AWS, GCP, Azure, OpenStack metadata
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
]


class RefusedAddress(Exception):
    code = "refused_address"


def allowed() -> bool:
    return getattr(settings, "ALLOW_LINK_LOCAL", False)


def refused_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in REFUSED_NETWORKS)


def _literal(host: str) -> str | None:
    """The address a host name stands for without DNS: 169.254.169.254, [fe80::1], and the old
    forms the resolver also accepts (2852039166, 0xa9fea9fe, 169.254.43518)."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, ValueError):  # ValueError: a NUL character in the name
        return None


def check_host(host: str, *, resolve: bool) -> None:
    """RefusedAddress if `host` is, or (with `resolve`) resolves to, a refused address."""
    if allowed() or not host:
        return
    name = host.strip("[]").rstrip(".").lower()
    literal = _literal(name)
    if name in METADATA_HOSTS or (literal and refused_ip(literal)):
        raise RefusedAddress(
            _(
                "%(host)s is a link-local or cloud metadata address; the portal does not "
                "connect there (see PORTAL_ALLOW_LINK_LOCAL)."
            )
            % {"host": host}
        )
    if resolve and literal is None:
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return  # the connection will fail on its own, with its own error
        for info in infos:
            if refused_ip(info[4][0]):
                raise RefusedAddress(
                    _(
                        "%(host)s resolves to %(address)s, a link-local or cloud metadata "
                        "address; the portal does not connect there (see PORTAL_ALLOW_LINK_LOCAL)."
                    )
                    % {"host": host, "address": info[4][0]}
                )


def check_url(url: str, *, resolve: bool) -> None:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return  # not a URL: the URL validator says so
    check_host(host, resolve=resolve)


def check_peer(sock) -> None:
    """RefusedAddress if the socket is connected to a refused address (DNS answered one thing to
    check_host and another to the connection)."""
    if allowed() or sock is None:
        return
    try:
        address = sock.getpeername()[0]
    except (OSError, AttributeError):
        return
    if refused_ip(address):
        raise RefusedAddress(
            _("the connection went to %(address)s, a link-local or cloud metadata address")
            % {"address": address}
        )


def response_socket(response):
    """The socket under a streamed `requests` response, while its body is unread; None if
    unknown."""
    connection = getattr(response.raw, "_connection", None)
    return getattr(connection, "sock", None)


def validate_outbound_url(url: str) -> None:
    """For forms and serializers: ValidationError(code="refused_address"); no DNS at save time."""
    try:
        check_url(url, resolve=False)
    except RefusedAddress as exc:
        raise ValidationError(str(exc), code=RefusedAddress.code) from None


def validate_outbound_host(host: str) -> None:
    try:
        check_host(host, resolve=False)
    except RefusedAddress as exc:
        raise ValidationError(str(exc), code=RefusedAddress.code) from None


def guard_response(response, *args, **kwargs):
    """A `requests` response hook, called for every hop of a redirect chain: the connected peer is
    checked, and a redirect's target before it is followed."""
    check_peer(response_socket(response))
    if response.is_redirect:
        check_url(urljoin(response.url, response.headers["location"]), resolve=True)
    return response
