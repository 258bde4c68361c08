"""Refuse outgoing URLs that point into private networks (SSRF guard).

Used when a webhook URL is saved and again at delivery time, because DNS can change between the
two. Loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast and
reserved ranges are refused unless the operator allows them for local development.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from vexa_site.errors import InvalidInput


class UnsafeURL(InvalidInput):
    default_detail = "URL is not allowed"


_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def _address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in ipaddress.ip_network("100.64.0.0/10")
    )


def resolve_public_url(url: str, *, allow_private: bool) -> list[str]:
    """Check `url` and return the addresses it resolves to; raise UnsafeURL if any is private."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("URL must use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeURL("URL must include a host")
    if parts.username or parts.password:
        raise UnsafeURL("URL must not contain credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("URL has an invalid port") from None
    if host.lower() in _METADATA_HOSTS and not allow_private:
        raise UnsafeURL("URL points to a cloud metadata service")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"Host {host!r} does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for raw in addresses:
            if not _address_is_public(ipaddress.ip_address(raw.split("%")[0])):
                raise UnsafeURL(
                    f"URL resolves to a private, loopback or link-local address ({raw})"
                )
    return addresses
