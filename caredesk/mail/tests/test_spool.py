"""The intake's own file on SQLite (mail/spool.py): mail is committed there at once, then
moved into the ledger by the worker, in arrival order, never twice, never lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from caredesk.core.writes import one_writer
from caredesk.mail import intake, spool
from caredesk.mail.choices import Outcome, State, Transport
from caredesk.mail.models import InboundMessage
from caredesk.mail.processing import process_pending
from caredesk.tickets.models import Ticket

from .factories import build

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL: the intake writes the ledger directly"
)


@pytest.mark.django_db(transaction=True)
def test_mail_is_stored_while_the_worker_holds_the_write_lock():
    """The point of the spool on SQLite (PostgreSQL never locks the database): storing a
    message does not wait for a transaction that holds the main database's writer."""
    holding, release = threading.Event(), threading.Event()

    def worker_applying_a_batch() -> None:
        try:
            with one_writer(), transaction.atomic():
                Ticket.objects.filter(pk=0).update(subject="")  # a write: the lock is taken
                holding.set()
                release.wait(30)
        finally:
            connection.close()  # this thread's, not the test's

    def intake_storing() -> None:
        try:
            stored.append(intake.receive(build(), transport=Transport.SMTP))
        finally:
            connection.close()

    worker = threading.Thread(target=worker_applying_a_batch)
    worker.start()
    try:
        assert holding.wait(30)
        stored: list[str] = []
        store = threading.Thread(target=intake_storing)
        store.start()
        store.join(20)  # a deadlock guard, not a timing: it returns, or it never would
        assert stored, "storing waited for the worker's transaction"
    finally:
        release.set()
        worker.join()
    assert process_pending() == 1
    assert InboundMessage.objects.get(queue_id=stored[0]).outcome == Outcome.NEW_TICKET


@sqlite_only
def test_spooled_mail_reaches_the_ledger_in_arrival_order(db, settings):
    ids = [
        intake.receive(build(subject="First"), transport=Transport.SMTP),
        intake.receive(build(subject="Second"), transport=Transport.IMAP, mailbox="support"),
        intake.receive(build(subject="Third"), transport=Transport.WEBHOOK, mailbox="mailgun"),
    ]
    assert not InboundMessage.objects.exists()  # committed to the spool, not yet moved
    assert spool.count() == 3

    assert process_pending() == 3
    rows = list(InboundMessage.objects.order_by("id"))
    assert [row.queue_id for row in rows] == ids
    assert [row.subject for row in rows] == ["First", "Second", "Third"]
    assert [row.transport for row in rows] == ["smtp", "imap", "webhook"]
    assert all(row.state == State.DONE for row in rows)
    assert spool.count() == 0


@sqlite_only
def test_a_crash_after_the_ledger_commit_moves_nothing_twice(db, monkeypatch):
    raws = [build(subject="One"), build(subject="Two")]
    for raw in raws:
        intake.receive(raw, transport=Transport.SMTP)
    real = spool._db

    class CrashBeforeDeleting:
        """The spool's connection, as it is until the process dies before the DELETE."""

        def __init__(self, db):
            self.db = db

        def execute(self, sql, *args):
            if sql.startswith("DELETE"):
                raise SystemExit("the worker died")
            return self.db.execute(sql, *args)

    monkeypatch.setattr(spool, "_db", lambda: CrashBeforeDeleting(real()))
    with pytest.raises(SystemExit):
        spool.move()
    assert InboundMessage.objects.count() == 2  # in the ledger …
    assert spool.count() == 2  # … and still here

    monkeypatch.setattr(spool, "_db", real)  # the worker starts again
    assert spool.move() == 2
    assert spool.count() == 0
    assert [
        bytes(r) for r in InboundMessage.objects.order_by("id").values_list("raw", flat=True)
    ] == raws


@sqlite_only
@pytest.mark.parametrize("moved_between", [True, False], ids=["moved-between", "one-move"])
def test_another_message_under_a_queue_id_already_taken_is_kept_under_a_new_one(
    db, monkeypatch, moved_between
):
    monkeypatch.setattr(spool, "new_queue_id", lambda: "0" * 32)
    intake.receive(build(subject="One"), transport=Transport.SMTP)
    if moved_between:
        spool.move()
    intake.receive(build(subject="Two"), transport=Transport.SMTP)  # the same id
    intake.receive(build(subject="Three"), transport=Transport.SMTP)  # and again
    monkeypatch.undo()
    spool.move()
    assert process_pending() == 3
    subjects = list(InboundMessage.objects.order_by("id").values_list("queue_id", "subject"))
    assert subjects[0] == ("0" * 32, "One")
    assert [subject for _, subject in subjects] == ["One", "Two", "Three"]
    assert len({queue_id for queue_id, _ in subjects}) == 3


@sqlite_only
def test_mail_stats_count_what_is_still_in_the_spool(db, capsys):
    import json

    from django.core.management import call_command

    intake.receive(build(), transport=Transport.SMTP)
    call_command("mail", "stats")
    counts = json.loads(capsys.readouterr().out)
    assert (counts["spooled"], counts["total"]) == (1, 0)


@sqlite_only
def test_a_move_holds_a_bounded_amount_of_mail_in_memory(db):
    big = build(subject="Big", body="x" * 3000)
    for _ in range(3):
        intake.receive(big, transport=Transport.SMTP)
    assert spool.move(max_bytes=len(big) * 2) == 2  # two fit
    assert spool.move(max_bytes=10) == 1  # at least one, however big
    assert InboundMessage.objects.count() == 3 and spool.count() == 0


@sqlite_only
def test_spool_and_ledger_commits_reach_the_disk_before_they_return(db):
    """FULL: the log is synced at each commit, so neither the spool's row behind a "250"
    nor the ledger row that replaces it can be lost to a power cut (NORMAL syncs only at
    checkpoints)."""
    full = 2
    assert spool._db().execute("PRAGMA synchronous").fetchone()[0] == full
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == full
