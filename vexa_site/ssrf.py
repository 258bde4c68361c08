"""Refuse outgoing URLs that point into private networks (SSRF guard).

Used when a webhook or calendar URL is saved and again at each request, because DNS can change
between the two. Loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT,
multicast and reserved ranges are refused unless the operator allows them (local development,
a calendar server on the company network).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


def pinned_target(url: str, *, allow_private: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Resolve and check `url` now, and aim the request at the checked address, so a DNS
    answer that changes between the check and the connect cannot point it somewhere private.
    Returns the URL to request, its Host header and httpx's request extensions: the Host header
    and TLS SNI (hence certificate checks) keep the original name."""
    addresses = resolve_public_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = sorted(addresses, key=lambda a: ":" in a)[0].split("%")[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = f"[{host}]" if ":" in host else host
    if parts.port:
        host_header += f":{parts.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return target, {"Host": host_header}, extensions
