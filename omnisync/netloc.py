"""The one rule for where credentials may travel over plain http: this machine only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """`localhost`, an address in 127.0.0.0/8, or ::1: a host that is this machine.

    A name is trusted only if it is exactly `localhost` (RFC 6761 reserves it); any other name,
    `localhost.example.com` or `127.0.0.1.nip.io`, is resolved by DNS and may be anywhere.
    """
    host = host.lower().removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_secure_url(url: str) -> bool:
    """https:// to any host, or plain http:// to a loopback host (tests, a local proxy)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # an unbalanced [ in the host
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
