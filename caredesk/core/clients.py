"""The address of the client a request came from, for per-address rate limits.

Directly exposed, it is ``REMOTE_ADDR``. Behind reverse proxies, ``REMOTE_ADDR`` is the
nearest proxy's and every visitor would share one limit: set ``TRUSTED_PROXY_COUNT`` to
the number of proxies in front of caredesk, and the client is the address the outermost
of them saw, which is that many entries from the right of ``X-Forwarded-For`` (each proxy
appends the address it received the request from). Entries further left were written by
the client and are never trusted. A request that did not come through as many proxies as
configured (a shorter header) is counted under its ``REMOTE_ADDR``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    direct = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return direct
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return direct
    return forwarded[-proxies]
