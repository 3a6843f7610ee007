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

import contextvars
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import Storage
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

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


# ---------------------------------------------------------------- stored files

# A file stored by a write (an attachment) is not undone by a rollback: while a list is
# set here, the writes record each file they store, so that whoever rolls back can
# delete them (in_transaction does; the mail worker's batches do).
_stored_files: contextvars.ContextVar[list[tuple[Storage, str]] | None] = contextvars.ContextVar(
    "stored_files", default=None
)


def file_stored(storage: Storage, name: str) -> None:
    """Record a file just stored by a write inside a transaction."""
    if (files := _stored_files.get()) is not None:
        files.append((storage, name))


@contextmanager
def recording_stored_files() -> Iterator[list[tuple[Storage, str]]]:
    """Within this block, the files stored by writes are added to the list it gives. When
    it ends without an error inside another such block (a transaction inside a mail
    batch), its files join that one's, whose rollback must delete them too."""
    outer = _stored_files.get()
    files: list[tuple[Storage, str]] = []
    token = _stored_files.set(files)
    try:
        yield files
    finally:
        _stored_files.reset(token)
    if outer is not None:
        outer.extend(files)


def delete_stored_files(files: list[tuple[Storage, str]], start: int = 0) -> None:
    """Delete the files recorded from ``start`` on: their rows were rolled back."""
    for storage, name in files[start:]:
        try:
            storage.delete(name)
        except Exception:  # a leftover file is not worth a failed request
            logger.warning("Could not delete %s after a rollback", name, exc_info=True)
    del files[start:]


# ---------------------------------------------------------------- per-transaction memo

_memo = threading.local()  # the current transaction's memo, in the thread that runs it


def transaction_memo[T](key: str, compute: Callable[[], T]) -> T:
    """``compute()``, once per transaction run in a ``memo_scope`` (every
    ``in_transaction`` group, every mail batch): for a read each write of a group would
    repeat, such as the active webhook endpoints. Outside a scope, computed each time."""
    values = getattr(_memo, "values", None)
    if values is None:
        return compute()
    if key not in values:
        values[key] = compute()
    return values[key]


@contextmanager
def memo_scope() -> Iterator[None]:
    """Around one transaction: ``transaction_memo`` values live as long as it does. Inside
    another scope (a savepoint of its transaction), that one's values serve."""
    if getattr(_memo, "values", None) is not None:
        yield
        return
    _memo.values = {}
    try:
        yield
    finally:
        _memo.values = None


# ---------------------------------------------------------------- group commit

GROUP_MAX = 16  # transactions in one commit, at most: a bound on a group's latency


class GroupInterrupted(TransactionManagementError):
    """The thread running a group of writes was interrupted before it got to this one, or
    a body left its transaction to be rolled back without raising: nothing of it was
    written, and it may be tried again."""


@dataclass(eq=False)
class _Work:
    """One caller's transaction body, waiting to be run by whichever thread leads."""

    body: Callable[[], Any]
    context: contextvars.Context
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False  # its outcome is final (value or error)
    value: Any = None
    error: BaseException | None = None
    files: list[tuple[Storage, str]] = field(default_factory=list)  # stored by this run

    def run(self) -> None:
        """Run the body once more, from the caller's context as it was when queued."""
        self.value, self.error = None, None
        self.value = self.context.copy().run(self._recorded)

    def _recorded(self) -> Any:
        with recording_stored_files() as self.files:
            return self.body()

    def undo_files(self) -> None:
        delete_stored_files(self.files)

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


_queue: list[_Work] = []
_queue_lock = threading.Lock()
_leading = False  # some thread is running a group, or has been asked to


def in_transaction[T](body: Callable[[], T], *, group: bool = False) -> T:
    """Run ``body`` (the writes of one request) in a transaction of its own, and return
    what it returns; its exception if it raises, with nothing of it written.

    With ``group`` on SQLite, the transactions that reach here while another is running
    wait, and are then run one after another by a single thread in one transaction: one
    ``BEGIN IMMEDIATE``, one commit for all of them (group commit). A commit writes every
    page the transaction changed; new rows of a table share its last pages, so a group
    writes hardly more than one of them (bench/api_create.py: 29 pages a ticket alone).
    And the writer's lock, which every creation otherwise held ~1.5 ms, is taken once. If
    any body of a group raises, the group's transaction is rolled back and each body runs
    again alone, so each caller sees what it would have seen alone.

    ``body`` may therefore run twice, and in another thread (in the caller's context
    variables): it must start from objects of its own (a rolled-back run may have changed
    those it was given) and do nothing outside the database that a rollback does not
    undo, but store files through the rules (``file_stored``): those of a run rolled
    back are deleted. On PostgreSQL, inside a transaction already, or while this thread
    holds the writer's lock, it simply runs in a transaction."""
    work = _Work(body, contextvars.copy_context())
    if (
        not group
        or connection.vendor != "sqlite"
        or connection.in_atomic_block
        or getattr(_depth, "n", 0)  # this thread holds the writer's lock already
    ):
        _alone(work)
        return work.outcome()
    global _leading
    with _queue_lock:
        _queue.append(work)
        lead, _leading = not _leading, True
    if not lead:
        work.wake.wait()  # done by a leader, or made the next one
    if not work.done:
        _lead(work)
    return work.outcome()


def _lead(me: _Work) -> None:
    global _leading
    successor, group = None, []
    try:
        # The writer's lock first, the group then: what queued while another process
        # wrote joins this group instead of waiting for the next.
        with one_writer():
            with _queue_lock:
                group = _queue[:GROUP_MAX]
                del _queue[:GROUP_MAX]
            _run(group)
    finally:
        with _queue_lock:
            if me in _queue:  # the lock could not be had: the group was never taken
                _queue.remove(me)
            if _queue:
                successor = _queue[0]  # leads the next group; _leading stays set
            else:
                _leading = False
        for work in group:
            if not work.done:  # the leader was interrupted before it got to this one
                work.value, work.error = None, GroupInterrupted("Interrupted; not written.")
            work.done = True
            work.wake.set()
        if successor is not None:
            successor.wake.set()


def _run(group: list[_Work]) -> None:
    if len(group) > 1:
        try:
            with one_writer(), transaction.atomic(), memo_scope():
                for work in group:
                    work.run()
                _check_not_rolled_back()
        except Exception:  # rolled back: each alone, as if it had never met the others
            logger.debug("A group of %d writes failed; each runs alone", len(group))
            for work in group:
                work.undo_files()
        except BaseException:  # the thread is stopping: nothing was written
            for work in group:
                work.undo_files()
            raise
        else:
            for work in group:
                work.done = True
            return
    for work in group:
        _alone(work)


def _alone(work: _Work) -> None:
    try:
        with one_writer(), transaction.atomic(), memo_scope():
            work.run()
            _check_not_rolled_back()
    except Exception as exc:  # the caller's to handle, in the caller's thread
        work.undo_files()
        work.value, work.error = None, exc
    except BaseException:
        work.undo_files()
        raise
    work.done = True


def _check_not_rolled_back() -> None:
    """A body that caught an error of its own writes leaves the transaction marked for
    rollback, which the end of the block then does without a word: raise instead, so
    that no caller is told its writes were made."""
    if connection.needs_rollback:
        raise GroupInterrupted("A write failed and was caught; the transaction rolled back.")
