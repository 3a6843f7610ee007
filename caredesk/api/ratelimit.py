"""Request rate limits per token (or signed-in user) and per client address.

Fixed windows aligned to the clock (``unix time // API_RATE_WINDOW``), so the wait until
the next window is known without storing it: that is the ``Retry-After``. The counters
live in the database (``RateCounter``), so they hold across server processes, and one
request costs one statement that counts every key it is limited by:

    INSERT … VALUES (key, bucket, 1), … ON CONFLICT (name) DO UPDATE
        SET hits = <hits + 1, or 1 in a new window> … RETURNING name, hits

(the same SQL on SQLite ≥ 3.35 and PostgreSQL; atomic, so concurrent requests never lose a
count). Django's cache-based ``caredesk.core.ratelimit`` would cost two read-then-write
transactions per key; it stays the tool for the password login, which is rare.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja.throttling import BaseThrottle

from .models import RateCounter


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR, as the login form uses: a proxy in front must set it (granian does
    # not trust X-Forwarded-For, and neither do we).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def count(keys: Sequence[str], *, window: int, now: float | None = None) -> dict[str, int]:
    """Count one request against each key in the current window; the counts after it."""
    keys = sorted(set(keys))  # one lock order for all, so PostgreSQL cannot deadlock
    bucket = int((time.time() if now is None else now) // window)
    qn = connection.ops.quote_name
    table = qn(RateCounter._meta.db_table)
    name, bucket_col, hits = qn("name"), qn("bucket"), qn("hits")
    rows = ", ".join(["(%s, %s, 1)"] * len(keys))
    sql = (
        f"INSERT INTO {table} ({name}, {bucket_col}, {hits}) VALUES {rows} "  # noqa: S608
        f"ON CONFLICT ({name}) DO UPDATE SET "
        f"{hits} = CASE WHEN {table}.{bucket_col} = excluded.{bucket_col} "
        f"THEN {table}.{hits} + 1 ELSE 1 END, "
        f"{bucket_col} = excluded.{bucket_col} "
        f"RETURNING {name}, {hits}"
    )
    params: list = []
    for key in keys:
        params += [key[:80], bucket]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def seconds_to_next_window(window: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return max(1, math.ceil(window - now % window))


def _keys(request: HttpRequest) -> dict[str, int]:
    """Each key this request counts against, with its limit."""
    keys = {f"ip:{client_address(request)}": settings.API_RATE_LIMIT_PER_IP}
    token = getattr(request, "api_token", None)
    user = getattr(request, "auth", None)
    if token is not None:
        keys[f"token:{token.pk}"] = settings.API_RATE_LIMIT_PER_TOKEN
    elif user is not None:
        keys[f"user:{user.pk}"] = settings.API_RATE_LIMIT_PER_TOKEN
    return keys


class ApiRateLimit(BaseThrottle):
    """ninja runs throttles after authentication: the token is known here. Stateless (one
    instance serves every thread): the wait is the time to the next window."""

    def allow_request(self, request: HttpRequest) -> bool:
        limits = _keys(request)
        counts = count(list(limits), window=settings.API_RATE_WINDOW)
        return all(counts.get(key[:80], 0) <= limit for key, limit in limits.items())

    def wait(self) -> float:
        return seconds_to_next_window(settings.API_RATE_WINDOW)


def check_address(request: HttpRequest) -> HttpResponse | None:
    """Count a request that failed authentication against its address; the 429 answer
    when the address is over its limit (guessing tokens costs like any other request)."""
    from .errors import problem_response

    key = f"ip:{client_address(request)}"
    counts = count([key], window=settings.API_RATE_WINDOW)
    if counts.get(key[:80], 0) <= settings.API_RATE_LIMIT_PER_IP:
        return None
    wait = seconds_to_next_window(settings.API_RATE_WINDOW)
    return problem_response(
        request,
        429,
        f"Too many requests; try again in {wait} s.",
        headers={"Retry-After": str(wait)},
    )
