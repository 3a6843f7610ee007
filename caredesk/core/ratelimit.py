"""Fixed-window rate limits kept in the shared (database) cache."""

from __future__ import annotations

import hashlib
import unicodedata

from django.core.cache import cache
from django.http import HttpRequest

from .clients import client_address


def hit(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one attempt; True while the caller is still within ``limit`` per ``window``s."""
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    cache_key = f"rl:{digest}"
    if cache.add(cache_key, 1, timeout=window):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=window)
        count = 1
    return count <= limit


def reset(scope: str, key: str) -> None:
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    cache.delete(f"rl:{digest}")


def person_key(email: str) -> str:
    """An email address as sign-in finds its account: NFKC (as Django's username field
    normalizes it: a full-width letter is the plain one), trimmed, case-folded. Counted
    on the raw text, each look-alike spelling would get an allowance of its own."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def hit_person_and_client(
    scope: str,
    request: HttpRequest | None,
    email: str,
    *,
    limit: int,
    client_limit: int,
    window: int,
) -> bool:
    """Count one attempt for the person ``email`` and one for the client's address (its
    limit is larger: several people may share an address); True while both are within
    their limits. Both are counted every time."""
    address = client_address(request) if request is not None else ""
    within = hit(f"{scope}-email", person_key(email), limit=limit, window=window)
    return hit(f"{scope}-ip", address, limit=client_limit, window=window) and within


def reset_person(scope: str, email: str) -> None:
    """Clear the person's count (a correct password): the client's stays."""
    reset(f"{scope}-email", person_key(email))
