"""On SQLite, the mail intake's own database file: received mail is committed here, and
the worker moves it into the ledger (``mail_inboundmessage``) before processing it.

Why a second file: SQLite lets one writer at a time into a database file, and the
worker holds the main file's write lock while it applies a batch of mail. Storing the
next message waited for that lock, so receiving and processing took turns and the
intake's ``250`` waited for the worker (bench/mail_ingest.py measured end to end as the
sum of the two). A file of its own has a lock of its own: the SMTP server, the IMAP
poller and provider webhooks commit here at once, whatever the worker is doing.

Nothing is lost on the way. A message is committed here before its sender hears
``250`` (or the IMAP message is marked seen, or the webhook answered); ``move()`` commits
it to the ledger first and only then deletes it here. A crash between the two leaves it
in both: the next move finds its queue id in the ledger (a unique column) and only
deletes it here. The worker moves under its processing lease, so the ledger keeps
arrival order across all three ways in.

PostgreSQL locks rows, not the database: there the intake writes the ledger directly and
this file is not used (``MAIL_SPOOL`` is empty). The file holds only mail in transit,
usually nothing; deleting it while the worker is stopped would lose what it holds.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from caredesk.core.writes import one_writer
from caredesk.lib.rows import insert_many

from .models import InboundMessage

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order, never reused
    queue_id TEXT NOT NULL,
    received_at TEXT NOT NULL,             -- ISO 8601, with its UTC offset
    transport TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,             -- JSON list
    raw BLOB NOT NULL
);
"""
MOVE_BATCH = 200
MOVE_BYTES = 64 * 1024 * 1024  # in memory at once while moving (a message may be 25 MB)
_local = threading.local()


def enabled() -> bool:
    return bool(settings.MAIL_SPOOL)


def new_queue_id() -> str:
    """The intake's name for a message, as an MTA's queue id: given in the SMTP answer
    and kept in the ledger, so a sender's log line leads to the row."""
    return uuid.uuid4().hex


def _db() -> sqlite3.Connection:
    """This thread's connection to the spool (autocommit: each statement commits)."""
    path = str(settings.MAIL_SPOOL)
    cached = getattr(_local, "db", None)
    if cached is not None and cached[0] == path:
        return cached[1]
    if cached is not None:
        cached[1].close()
    db = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
    # As the main database: WAL, and a commit is on disk before the SMTP "250" (FULL: one
    # fdatasync a message; RFC 5321 6.1 lets a server that said 250 lose nothing).
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
    _local.db = (path, db)
    return db


def close() -> None:
    """Close this thread's connection to the spool (a server thread that stops)."""
    cached = getattr(_local, "db", None)
    if cached is not None:
        cached[1].close()
        _local.db = None


def put(
    raw: bytes,
    *,
    queue_id: str,
    received_at: datetime,
    transport: str,
    mailbox: str,
    envelope_from: str,
    envelope_to: list[str],
) -> None:
    """Commit a received message to the spool (``move`` makes its ledger row)."""
    _db().execute(
        "INSERT INTO message (queue_id, received_at, transport, mailbox, envelope_from, "
        "envelope_to, raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            queue_id,
            received_at.isoformat(),
            transport,
            mailbox,
            envelope_from,
            json.dumps(envelope_to),
            raw,
        ),
    )


def first_within[K](sizes: Iterable[tuple[K, int]], budget: int) -> list[K]:
    """The keys of the first ``(key, size)`` pairs whose sizes add up to no more than
    ``budget``, but at least the first one, whatever its size: how much mail is held in
    memory at once, here and by the worker's batches."""
    keys: list[K] = []
    total = 0
    for key, size in sizes:
        if keys and total + size > budget:
            break
        keys.append(key)
        total += size
    return keys


def count() -> int:
    if not enabled():
        return 0
    return _db().execute("SELECT count(*) FROM message").fetchone()[0]


def move(limit: int = MOVE_BATCH, max_bytes: int = MOVE_BYTES) -> int:
    """Move up to ``limit`` spooled messages, oldest first and at most ``max_bytes`` of
    them (but at least one), into the ledger (queued for processing); returns how many.
    Called outside any transaction (the worker does): inside one, the spool would forget
    them before the caller's commit."""
    if not enabled():
        return 0
    db = _db()
    sizes = db.execute("SELECT id, length(raw) FROM message ORDER BY id LIMIT ?", (limit,))
    taken = first_within(sizes, max_bytes)
    if not taken:
        return 0
    last = taken[-1]
    spooled = db.execute(
        "SELECT id, queue_id, received_at, transport, mailbox, envelope_from, envelope_to, "
        "raw FROM message WHERE id <= ? ORDER BY id",
        (last,),
    ).fetchall()
    rows = [
        InboundMessage.received(
            raw,
            queue_id=queue_id,
            received_at=datetime.fromisoformat(received_at),
            transport=transport,
            mailbox=mailbox,
            envelope_from=sender,
            envelope_to=json.loads(recipients),
        )
        for _, queue_id, received_at, transport, mailbox, sender, recipients, raw in spooled
    ]
    with one_writer(), _synced(), transaction.atomic():
        insert_many(_not_moved_yet(rows))
    # Committed to the ledger, and on disk: only now may they leave the spool.
    db.execute("DELETE FROM message WHERE id <= ?", (last,))
    return len(spooled)


@contextmanager
def _synced() -> Iterator[None]:
    """The ledger's commit reaches the disk before the spool forgets what it moved: the
    main database commits without syncing (``synchronous=NORMAL``), which a power cut
    could undo while the spool's deletion survived."""
    if connection.in_atomic_block:  # (tests) SQLite cannot change it inside one
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=FULL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=NORMAL")


def _not_moved_yet(rows: list[InboundMessage]) -> list[InboundMessage]:
    """Those of ``rows`` whose queue id is not in the ledger. One that is was moved
    before a crash kept it here too, and is skipped. Should it be another message after
    all (two random 128-bit ids alike), it is kept under a new id: never dropped."""
    moved = dict(
        InboundMessage.objects.filter(queue_id__in=[row.queue_id for row in rows]).values_list(
            "queue_id", "sha256"
        )
    )
    fresh = []
    taken = set(moved)
    for row in rows:
        if moved.get(row.queue_id) == row.sha256:
            continue
        if row.queue_id in taken:
            logger.warning("queue id %s was taken; the message gets a new one", row.queue_id)
            row.queue_id = new_queue_id()
        taken.add(row.queue_id)
        fresh.append(row)
    return fresh
