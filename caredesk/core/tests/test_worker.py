"""``caredesk worker --batch``: runs queued tasks, delivers due email, recovers orphans."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from caredesk.core.management.commands.worker import WorkerLost
from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.outbox.services import enqueue_email

pytestmark = pytest.mark.django_db


@task
def add(a: int, b: int) -> int:
    return a + b


def batch(*args: str) -> None:
    call_command("worker", "--batch", "--verbosity", "0", *args)


def orphan(worker_ids: list[str], started: timedelta) -> DBTaskResult:
    """A task that a worker claimed and then died while running."""
    result = add.enqueue(2, 3)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - started,
        worker_ids=worker_ids,
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_it_delivers_due_email(mailoutbox):
    email = enqueue_email(["alice@acme.test"], "Your ticket #7", "We are on it.")
    batch()
    email.refresh_from_db()
    assert email.status == DeliveryStatus.SENT
    assert email.sent_at is not None
    assert [(m.subject, m.to) for m in mailoutbox] == [("Your ticket #7", ["alice@acme.test"])]


def test_it_leaves_email_that_is_not_due_yet(mailoutbox):
    later = OutboundEmail.objects.create(
        to=["bob@bethel.test"],
        subject="Later",
        body="-",
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    batch()
    later.refresh_from_db()
    assert later.status == DeliveryStatus.PENDING
    assert mailoutbox == []


def test_batch_stops_even_when_another_worker_holds_an_email(mailoutbox):
    held = OutboundEmail.objects.create(
        to=["bob@bethel.test"],
        subject="Held",
        body="-",
        leased_until=timezone.now() + timedelta(minutes=5),
    )
    batch()
    held.refresh_from_db()
    assert held.status == DeliveryStatus.PENDING
    assert mailoutbox == []


def test_it_runs_enqueued_tasks():
    results = [add.enqueue(1, 2), add.enqueue(20, 22)]
    batch()
    rows = DBTaskResult.objects.filter(pk__in=[r.id for r in results])
    assert sorted((row.status, row.return_value) for row in rows) == [
        (TaskResultStatus.SUCCESSFUL, 3),
        (TaskResultStatus.SUCCESSFUL, 42),
    ]


def test_it_requeues_and_runs_a_task_orphaned_by_a_crashed_worker():
    stale = orphan(["crashed-1"], started=timedelta(hours=1))
    fresh = orphan(["busy-elsewhere"], started=timedelta(seconds=5))
    batch()
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == TaskResultStatus.SUCCESSFUL and stale.return_value == 5
    assert stale.worker_ids[0] == "crashed-1" and len(stale.worker_ids) == 2
    assert fresh.status == TaskResultStatus.RUNNING  # may still be running: left alone


def test_a_restarted_worker_requeues_its_own_tasks_at_once():
    mine = orphan(["host-a-1"], started=timedelta(seconds=5))
    batch("--worker-id", "host-a-1")
    mine.refresh_from_db()
    assert mine.status == TaskResultStatus.SUCCESSFUL
    assert mine.worker_ids == ["host-a-1", "host-a-1"]


def test_a_task_that_keeps_killing_its_worker_is_failed_not_retried():
    poison = orphan(["w-1", "w-2", "w-3"], started=timedelta(hours=1))
    batch()
    poison.refresh_from_db()
    assert poison.status == TaskResultStatus.FAILED
    assert poison.exception_class_path.endswith(WorkerLost.__qualname__)
    assert "3 times" in poison.traceback
