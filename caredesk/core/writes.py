"""SQLite takes one writer at a time; the busiest writers queue for it here: the API,
the mail intake (SMTP, IMAP, provider webhooks) and the worker applying mail.

Without this, concurrent writers poll SQLite's lock: each ``BEGIN IMMEDIATE`` that finds
it taken sleeps 1, 2, 5, 10 … up to 100 ms between tries (SQLite's busy handler). The
lock then often sits free while every writer sleeps, and a writer of one server process
can lose to the other process's writers again and again: in bench/api_create.py one
creation in a hundred waited about a second. Here a writer waits on locks that wake it
the moment the previous writer is done: a thread lock among this process's threads, and
``flock`` on a file beside the database among the server's processes (the kernel wakes
a waiter at once; nothing polls). That brought the 99th percentile to 200 to 350 ms at the
same throughput. The mail intake and the worker meet here too: with the busy handler's
sleeps between them, bench/mail_ingest.py went 120 msg/s; queued here, 137. Writers that
do not come through here (the web pages, the outbox) still meet SQLite's own lock.

PostgreSQL locks rows, not the database, and needs none of this.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone
    fcntl = None

logger = logging.getLogger("caredesk.api")

_THREADS = threading.RLock()
# (process, database path) -> the lock file: a forked child opens its own, since flock
# would not exclude two processes sharing one open file.
_files: dict[tuple[int, str], int | None] = {}
_depth = threading.local()


def _lock_file() -> int | None:
    name = str(connection.settings_dict["NAME"])
    key = (os.getpid(), name)
    if key not in _files:
        _files[key] = None
        in_memory = name == ":memory:" or name.startswith("file:") or "mode=memory" in name
        if fcntl is not None and not in_memory:
            try:
                _files[key] = os.open(f"{name}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:  # e.g. a read-only directory: threads still queue
                logger.warning("No writer lock file beside %s: %s", name, exc)
    return _files[key]


@contextmanager
def one_writer() -> Iterator[None]:
    """Around a write transaction (or a single writing statement)."""
    if connection.vendor != "sqlite":
        yield
        return
    with _THREADS:
        depth = getattr(_depth, "n", 0)
        fd = _lock_file() if depth == 0 else None
        _depth.n = depth + 1
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            _depth.n = depth
