"""SQLite: the write-ahead log is copied into the database by a thread of its own.

In WAL mode every commit appends the pages it changed to ``<database>-wal``; a
*checkpoint* copies them back into the database file, and syncs both. By default the
commit that takes the log past 1,000 pages does it, inside its own transaction's time:
with caredesk's writers queued for SQLite's one write lock (``core/writes.py``), every
writer behind it waits too. In bench/api_create.py about one creation in twenty paid for
a checkpoint, 3-6 ms, which was half the commit time of all of them.

So each long-running process that writes (each of the server's workers, on its first
request; ``caredesk worker``) runs ``start()``: a daemon thread that checkpoints every
``INTERVAL`` seconds with its own connection, in ``PASSIVE`` mode, which takes no write
lock and waits for nobody (two processes' threads take turns; one finding the other at
it skips a round). A page written many times in between is copied once. The
connections' own automatic checkpoint stays as a safety net at 10,000 pages (40 MB of
log; ``settings.DATABASES``), for when no such process runs.

PostgreSQL needs none of this.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

from django.db import connections

logger = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds

_started: set[tuple[int, str]] = set()  # (process, database)
_lock = threading.Lock()
_pid = 0  # the process that called start() (a fork's child has its parent's value)


def start() -> Checkpointer | None:
    """Checkpoint the default database in the background; nothing unless it is a SQLite
    file."""
    global _pid
    _pid = os.getpid()
    connection = connections["default"]
    path = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or path == ":memory:" or "mode=memory" in path:
        return None
    return in_background(path)


def in_background(path: str, interval: float = INTERVAL) -> Checkpointer | None:
    """The checkpointing thread for the SQLite file ``path``, started once per process
    (None if it runs already)."""
    with _lock:
        key = (os.getpid(), path)
        if key in _started:
            return None
        _started.add(key)
    thread = Checkpointer(path, interval)
    thread.start()
    return thread


def start_on_first_request(**_) -> None:
    """``request_started`` receiver for the web server: the thread is started in the
    process that serves, after any fork (a thread of a parent process does not survive
    a fork, and one caught inside SQLite by it would leave the child a held lock)."""
    if _pid != os.getpid():
        start()


class Checkpointer(threading.Thread):
    def __init__(self, path: str, interval: float) -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.path, self.interval = path, interval
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def run(self) -> None:
        path = self.path
        # Open only an existing file (the URI's mode=rw): never create an empty database.
        uri = path if path.startswith("file:") else f"{Path(path).resolve().as_uri()}?mode=rw"
        db: sqlite3.Connection | None = None
        failing = False
        while not self.stopped.wait(self.interval):
            try:
                if db is None:
                    db = sqlite3.connect(uri, uri=True, isolation_level=None)
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                failing = False
            except Exception as exc:  # the file replaced, a disk error: try again later
                # Said once per spell of failures, not every second.
                (logger.debug if failing else logger.warning)(
                    "checkpoint of %s skipped: %s", path, exc
                )
                failing = True
                if db is not None:
                    db.close()
                    db = None
        if db is not None:
            db.close()
