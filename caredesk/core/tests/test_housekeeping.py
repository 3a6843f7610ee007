"""Housekeeping deletes old bookkeeping rows, keeps what is still read, runs hourly."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from caredesk.core import housekeeping
from caredesk.core.models import Lease
from caredesk.mail.models import AutoReplyLog
from caredesk.tickets.choices import Activity
from caredesk.tickets.models import Presence

pytestmark = pytest.mark.django_db

HOURS = timedelta(hours=1)


def _session(expires) -> str:
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=expires)
    return store.session_key


def _task_result(status: str, finished_ago: timedelta) -> DBTaskResult:
    finished = timezone.now() - finished_ago
    return DBTaskResult.objects.create(
        status=status,
        task_path="caredesk.example.task",
        args_kwargs={"args": [], "kwargs": {}},
        queue_name="default",
        backend_name="default",
        priority=0,
        run_after=finished,
        enqueued_at=finished,
        started_at=finished,
        finished_at=finished,
    )


def test_each_sweep_deletes_the_old_and_keeps_the_recent(ticket, agent, agent2):
    now = timezone.now()
    AutoReplyLog.objects.create(address="old@acme.test", sent_at=now - 25 * HOURS)
    AutoReplyLog.objects.create(address="recent@acme.test", sent_at=now - 2 * HOURS)
    Presence.objects.create(ticket=ticket, user=agent, activity=Activity.VIEWING)
    Presence.objects.create(
        ticket=ticket, user=agent2, activity=Activity.REPLYING, seen_at=now - HOURS
    )
    live = _session(now + HOURS)
    _session(now - HOURS)
    kept_task = _task_result(TaskResultStatus.SUCCESSFUL, timedelta(days=1))
    _task_result(TaskResultStatus.SUCCESSFUL, timedelta(days=20))
    kept_failure = _task_result(TaskResultStatus.FAILED, timedelta(days=20))
    _task_result(TaskResultStatus.FAILED, timedelta(days=90))

    deleted = housekeeping.run()

    addresses = set(AutoReplyLog.objects.values_list("address", flat=True))
    assert "old@acme.test" not in addresses and "recent@acme.test" in addresses
    assert list(Presence.objects.values_list("user", flat=True)) == [agent.pk]
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {
        kept_task.pk,
        kept_failure.pk,
    }
    assert deleted["caredesk.mail.outbound.purge_auto_reply_log"] == 1
    assert deleted["caredesk.core.sweeps.prune_task_results"] == 2
    assert set(deleted) == set(housekeeping.SWEEPS)


def test_it_runs_once_an_hour_whichever_worker_asks():
    AutoReplyLog.objects.create(address="old@acme.test", sent_at=timezone.now() - 30 * HOURS)
    assert housekeeping.run_if_due() is not None
    assert not AutoReplyLog.objects.exists()

    AutoReplyLog.objects.create(address="old@acme.test", sent_at=timezone.now() - 30 * HOURS)
    assert housekeeping.run_if_due() is None  # ran less than an hour ago
    assert AutoReplyLog.objects.count() == 1

    Lease.objects.filter(name=housekeeping.LEASE_NAME).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert housekeeping.run_if_due() is not None
    assert not AutoReplyLog.objects.exists()


def test_the_command_runs_every_sweep_and_says_what_it_deleted():
    AutoReplyLog.objects.create(address="old@acme.test", sent_at=timezone.now() - 30 * HOURS)
    out = io.StringIO()
    call_command("housekeeping", stdout=out)
    report = json.loads(out.getvalue())
    assert report["purge_auto_reply_log"] == 1
    assert len(report) == len(housekeeping.SWEEPS)
