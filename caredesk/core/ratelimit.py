"""Fixed-window rate limits kept in the shared (database) cache."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


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
