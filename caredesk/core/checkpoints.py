"""SQLite: the write-ahead log is copied into the database by a thread of its own.

In WAL mode every commit appends the pages it changed to ``<database>-wal``; a
*checkpoint* copies them back into the database file, and syncs both. By default the
commit that takes the log past 1,000 pages does it, inside its own transaction's time:
with caredesk's writers queued for SQLite's one write lock (``core/writes.py``), every
writer behind it waits too. In bench/api_create.py about one creation in twenty paid for
a checkpoint, 3-6 ms, which was half the commit time of all of them.

So each long-running process that writes (the server's workers, ``caredesk worker``)
runs ``start()``: a daemon thread that checkpoints every ``INTERVAL`` seconds with its
own connection, in ``PASSIVE`` mode, which takes no write lock and waits for nobody
(two processes' threads simply take turns; one finding the other at it skips a round).
A page written many times in between is copied once. The connections' own automatic
checkpoint stays as a safety net at 10,000 pages (40 MB of log; ``settings.DATABASES``),
for when no such process runs.

PostgreSQL needs none of this.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

from django.db import connections

logger = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds

_started: set[tuple[int, str]] = set()  # (process, database): a forked child starts its own
_lock = threading.Lock()


def start() -> threading.Thread | None:
    """Checkpoint the default database in the background; nothing unless it is a SQLite
    file."""
    connection = connections["default"]
    path = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or path == ":memory:" or "mode=memory" in path:
        return None
    return in_background(path)


def in_background(path: str, interval: float = INTERVAL) -> threading.Thread | None:
    """The checkpointing thread for the SQLite file ``path``, started once per process
    (None if it runs already)."""
    with _lock:
        key = (os.getpid(), path)
        if key in _started:
            return None
        _started.add(key)
    thread = threading.Thread(
        target=_checkpoint_forever, args=(path, interval), name="sqlite-checkpoint", daemon=True
    )
    thread.start()
    return thread


def _checkpoint_forever(path: str, interval: float) -> None:
    db: sqlite3.Connection | None = None
    while True:
        time.sleep(interval)
        try:
            if db is None:
                db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # e.g. the file is being replaced: next round
            logger.debug("checkpoint of %s skipped: %s", path, exc)
            if db is not None:
                db.close()
                db = None
