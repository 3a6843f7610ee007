"""Request rate limits per token (or signed-in user) and per client address.

Fixed windows aligned to the clock (``unix time // API_RATE_WINDOW``), so the wait until
the next window is known without storing it: that is the ``Retry-After``.

The counts live in the database (``RateCounter``), so the limits hold across server
processes — but a write on every request would make every GET a writer, and SQLite has
one writer at a time. So each process counts in memory and adds its hits to the shared
count in batches, with one statement for every key that is due:

    INSERT … VALUES (key, bucket, n), … ON CONFLICT (name) DO UPDATE
        SET hits = <hits + n, or n in a new window> … RETURNING name, hits

(the same SQL on SQLite ≥ 3.35 and PostgreSQL, atomic). A key is due after a fiftieth of
its limit in local hits, and on every hit once its known count passes 80 % of the
limit: far from the limit nothing is decided, near it every decision uses the shared
count. So a small limit (the tests' 2 or 3) is counted exactly, and a large one may be
overshot by at most a fiftieth of it per other server process.

Django's cache-based ``caredesk.core.ratelimit`` costs two read-then-write transactions
per key and hit; it stays the tool for the password sign-in, which is rare.
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja.throttling import BaseThrottle

from caredesk.core.clients import client_address
from caredesk.core.writes import one_writer

from .models import RateCounter

BATCH = 50  # a key is written after limit / BATCH local hits
EXACT_ABOVE = 0.8  # … and on every hit above this share of its limit


def add(increments: dict[str, int], bucket: int) -> dict[str, int]:
    """Add hits to the shared counts of ``bucket``; each key's count after it."""
    keys = sorted(increments)  # one lock order for all, so PostgreSQL cannot deadlock
    qn = connection.ops.quote_name
    table = qn(RateCounter._meta.db_table)
    name, bucket_col, hits = qn("name"), qn("bucket"), qn("hits")
    rows = ", ".join(["(%s, %s, %s)"] * len(keys))
    sql = (
        f"INSERT INTO {table} ({name}, {bucket_col}, {hits}) VALUES {rows} "  # noqa: S608
        f"ON CONFLICT ({name}) DO UPDATE SET "
        f"{hits} = CASE WHEN {table}.{bucket_col} = excluded.{bucket_col} "
        f"THEN {table}.{hits} + excluded.{hits} ELSE excluded.{hits} END, "
        f"{bucket_col} = excluded.{bucket_col} "
        f"RETURNING {name}, {hits}"
    )
    params: list = []
    for key in keys:
        params += [key, bucket, increments[key]]
    with one_writer(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


class Counter:
    """This process's view of the counts: per key, the shared count as last known (plus
    what this process has sent since) and the hits counted here and not yet sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bucket: int | None = None
        self._keys: dict[str, list[int]] = {}  # key -> [shared count, unsent hits]

    def hit(self, limits: dict[str, int], *, window: int, now: float | None = None):
        """Count one request against each key; the count of each in this window."""
        bucket = int((time.time() if now is None else now) // window)
        due: dict[str, int] = {}
        with self._lock:
            if bucket != self._bucket:
                self._bucket, self._keys = bucket, {}
            for key, limit in limits.items():
                entry = self._keys.setdefault(key, [0, 0])
                entry[1] += 1
                if entry[1] >= limit / BATCH or sum(entry) > limit * EXACT_ABOVE:
                    # Sent by this thread: no other thread sends these hits again.
                    due[key], entry[0], entry[1] = entry[1], entry[0] + entry[1], 0
        shared = add(due, bucket) if due else {}
        counts = {}
        with self._lock:
            for key in limits:
                entry = self._keys.get(key) if bucket == self._bucket else None
                if entry is None:  # the window turned meanwhile: a new count
                    counts[key] = shared.get(key, 1)
                    continue
                if key in shared:
                    entry[0] = max(entry[0], shared[key])
                counts[key] = sum(entry)
        return counts


counter = Counter()


def _key(key: str) -> str:
    return key[:80]


def purge_past_windows() -> int:
    """Housekeeping: counters of windows before the previous one are never read again."""
    current = int(time.time() // settings.API_RATE_WINDOW)
    deleted, _ = RateCounter.objects.filter(bucket__lt=current - 1).delete()
    return deleted


def seconds_to_next_window(window: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return max(1, math.ceil(window - now % window))


def _limits(request: HttpRequest) -> dict[str, int]:
    """Each key this request counts against, with its limit."""
    limits = {_key(f"ip:{client_address(request)}"): settings.API_RATE_LIMIT_PER_IP}
    token = getattr(request, "api_token", None)
    user = getattr(request, "auth", None)
    if token is not None:
        limits[f"token:{token.pk}"] = settings.API_RATE_LIMIT_PER_TOKEN
    elif user is not None:
        limits[f"user:{user.pk}"] = settings.API_RATE_LIMIT_PER_TOKEN
    return limits


class ApiRateLimit(BaseThrottle):
    """ninja runs throttles after authentication: the token is known here. Stateless (one
    instance serves every thread): the wait is the time to the next window."""

    def allow_request(self, request: HttpRequest) -> bool:
        limits = _limits(request)
        counts = counter.hit(limits, window=settings.API_RATE_WINDOW)
        return all(counts[key] <= limit for key, limit in limits.items())

    def wait(self) -> float:
        return seconds_to_next_window(settings.API_RATE_WINDOW)


def check_address(request: HttpRequest) -> HttpResponse | None:
    """Count a request that failed authentication against its address; the 429 answer
    when the address is over its limit (guessing tokens costs like any other request)."""
    from .errors import problem_response

    key, limit = _key(f"ip:{client_address(request)}"), settings.API_RATE_LIMIT_PER_IP
    if counter.hit({key: limit}, window=settings.API_RATE_WINDOW)[key] <= limit:
        return None
    wait = seconds_to_next_window(settings.API_RATE_WINDOW)
    return problem_response(
        request,
        429,
        f"Too many requests; try again in {wait} s.",
        headers={"Retry-After": str(wait)},
    )
