"""The address of the client a request came from, for per-address rate limits.

Directly exposed, it is ``REMOTE_ADDR``. Behind reverse proxies, ``REMOTE_ADDR`` is the
nearest proxy's and every visitor would share one limit: set ``TRUSTED_PROXY_COUNT`` to
the number of proxies in front of caredesk, and the client is the address the outermost
of them saw, which is that many entries from the right of ``X-Forwarded-For`` (each proxy
appends the address it received the request from). Entries further left were written by
the client and are never trusted.

The header itself is only believed from the nearest proxy: set ``TRUSTED_PROXIES`` to its
addresses or networks, and a request from anywhere else (someone reaching the server
directly, with a header of their own making) counts under its ``REMOTE_ADDR``. Left
empty, caredesk must be reachable through the proxies only (a loopback or private
listener). A request that came through fewer proxies than configured (a shorter header)
also counts under its ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    direct = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0 or not _from_trusted_proxy(direct):
        return direct
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return direct
    return forwarded[-proxies]


def _from_trusted_proxy(address: str) -> bool:
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@cache
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
