"""Writers take turns on SQLite (caredesk/core/writes.py)."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from caredesk.core import writes
from caredesk.core.models import Lease
from caredesk.lib.rows import insert_values

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL needs no writer queue"
)


def test_one_writer_at_a_time_among_threads():
    inside, most = 0, 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(200):
            with writes.one_writer():
                with lock:
                    inside += 1
                    most = max(most, inside)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1


def test_a_writer_may_nest():
    with writes.one_writer(), writes.one_writer():
        pass
    assert writes._depth.n == 0


def test_the_lock_file_lies_beside_a_database_file(tmp_path, monkeypatch):
    database = tmp_path / "caredesk.sqlite3"
    monkeypatch.setitem(connection.settings_dict, "NAME", str(database))
    files: dict = {}
    monkeypatch.setattr(writes, "_files", files)

    with writes.one_writer():
        assert (tmp_path / "caredesk.sqlite3-writer.lock").exists()

    for fd in files.values():
        os.close(fd)


# ---------------------------------------------------------------- group commit


def _callers(bodies, *, queued: int):
    """Call ``in_transaction`` with each body in a thread of its own while the test holds
    the writer's lock: the first leads and waits for the lock, the others queue behind
    it, and once the test lets go all run as one group. Returns a function that joins
    them and gives each one's outcome (the value, or the exception)."""
    outcomes: list = [None] * len(bodies)

    def call(index: int) -> None:
        try:
            outcomes[index] = writes.in_transaction(bodies[index], group=True)
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    threads[0].start()
    _wait_for(lambda: writes._leading)
    for thread in threads[1:]:
        thread.start()
    _wait_for(lambda: len(writes._queue) == queued)

    def join() -> list:
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive()
        return outcomes

    return join


def _wait_for(condition) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _row(name: str) -> Callable[[], str]:
    """A body that writes one row (a unique name) and returns the name."""

    def body() -> str:
        insert_values(Lease, name=name, holder="test", expires_at=timezone.now())
        return name

    return body


@pytest.mark.django_db(transaction=True)
def test_waiting_transactions_run_together_and_each_caller_gets_its_own_answer():
    threads_used: list[int] = []
    reads: list[int] = []
    marker = contextvars.ContextVar("marker", default="none")

    def body(n: int) -> Callable[[], tuple[int, str]]:
        def run() -> tuple[int, str]:
            threads_used.append(threading.get_ident())
            writes.transaction_memo("read once", lambda: reads.append(n))
            _row(f"group-{n}@example.org")()
            return n, marker.get()

        return run

    def caller_body(n: int):
        marker.set(f"caller {n}")  # set in the caller's thread, before it queues
        return writes.in_transaction(body(n), group=True)

    with writes.one_writer():
        join = _callers([lambda n=n: caller_body(n) for n in range(5)], queued=5)
    outcomes = join()

    assert outcomes == [(n, f"caller {n}") for n in range(5)]
    assert len(set(threads_used)) == 1  # all five: one thread, one commit
    assert len(reads) == 1  # what a transaction reads once, the group read once
    assert Lease.objects.filter(name__startswith="group-").count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_failing_transaction_leaves_the_others_of_its_group_written():
    _row("taken@example.org")()  # committed before: the unique index refuses it again

    def duplicate() -> None:
        _row("own-row@example.org")()
        _row("taken@example.org")()

    bodies = [
        _row("first@example.org"),
        _row("second@example.org"),
        _row("third@example.org"),
        duplicate,
        _row("fourth@example.org"),
    ]
    with writes.one_writer():
        join = _callers(bodies, queued=5)
    outcomes = join()

    assert isinstance(outcomes[3], IntegrityError)
    assert [outcomes[i] for i in (0, 1, 2, 4)] == [
        "first@example.org",
        "second@example.org",
        "third@example.org",
        "fourth@example.org",
    ]
    written = set(Lease.objects.values_list("name", flat=True))
    assert written == {
        "taken@example.org",
        "first@example.org",
        "second@example.org",
        "third@example.org",
        "fourth@example.org",
    }  # nothing of the failed one, everything of the others
    assert not writes._leading and not writes._queue


@pytest.mark.django_db(transaction=True)
def test_alone_or_inside_a_transaction_it_runs_where_it_is_called():
    caller = threading.get_ident()
    assert writes.in_transaction(lambda: threading.get_ident()) == caller
    with transaction.atomic():
        assert writes.in_transaction(lambda: connection.in_atomic_block)
    with pytest.raises(IntegrityError):
        writes.in_transaction(_row("x@example.org"), group=False)
        writes.in_transaction(_row("x@example.org"), group=False)
    assert Lease.objects.filter(name="x@example.org").count() == 1


@pytest.mark.django_db(transaction=True)
def test_files_stored_by_writes_that_are_rolled_back_are_deleted(tmp_path):
    storage = FileSystemStorage(location=tmp_path)

    def storing(name: str, *, fail: bool = False) -> Callable[[], str]:
        def body() -> str:
            stored = storage.save(f"{name}.txt", ContentFile(b"x"))
            writes.file_stored(storage, stored)
            _row(f"file-{name}")()
            if fail:
                raise ValueError("refused after storing")
            return stored

        return body

    bodies = [storing("a"), storing("b"), storing("c", fail=True), storing("d")]
    with writes.one_writer():
        join = _callers(bodies, queued=4)
    outcomes = join()

    assert isinstance(outcomes[2], ValueError)
    # The group's run stored a file for each and was rolled back: all four deleted. Each
    # ran again alone: the three that succeeded kept theirs, the failing one did not.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [outcomes[0], outcomes[1], outcomes[3]]
    )


@pytest.mark.django_db(transaction=True)
def test_a_leader_that_cannot_take_the_lock_leaves_no_one_waiting(monkeypatch):
    real, calls = writes.one_writer, []

    @contextmanager
    def failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("No locks available")
        with real():
            yield

    monkeypatch.setattr(writes, "one_writer", failing_once)
    with pytest.raises(OSError):
        writes.in_transaction(_row("first@example.org"), group=True)
    assert not writes._queue and not writes._leading
    assert writes.in_transaction(_row("second@example.org"), group=True) == "second@example.org"
    assert list(Lease.objects.values_list("name", flat=True)) == ["second@example.org"]


@pytest.mark.django_db(transaction=True)
def test_a_write_error_caught_by_the_body_is_not_reported_as_written():
    _row("taken@example.org")()

    def body() -> str:
        _row("before@example.org")()
        try:
            with transaction.atomic(savepoint=False):  # as the rules write
                _row("taken@example.org")()
        except IntegrityError:
            pass  # the transaction is now marked for rollback
        return "written?"

    with pytest.raises(writes.GroupInterrupted):
        writes.in_transaction(body, group=True)
    assert not Lease.objects.filter(name="before@example.org").exists()


@pytest.mark.django_db(transaction=True)
def test_inside_the_writers_lock_or_a_recorded_block_it_runs_alone_and_reports_files(tmp_path):
    storage = FileSystemStorage(location=tmp_path)

    def body() -> str:
        name = storage.save("kept.txt", ContentFile(b"x"))
        writes.file_stored(storage, name)
        return name

    with writes.one_writer():  # no deadlock with a group it would have to lead
        assert writes.in_transaction(_row("locked@example.org"), group=True)
    with writes.recording_stored_files() as outer, transaction.atomic():
        name = writes.in_transaction(body, group=True)
    assert outer == [(storage, name)]  # the outer block's rollback would delete it
