"""Housekeeping sweeps for what no caredesk app owns (see ``housekeeping.SWEEPS``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

# Finished background tasks are kept for looking into a problem, failures longer.
TASK_RESULTS_KEPT = timedelta(days=14)
FAILED_TASK_RESULTS_KEPT = timedelta(days=60)


def clear_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def prune_task_results() -> int:
    now = timezone.now()
    deleted, _ = (
        DBTaskResult.objects.filter(
            status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - TASK_RESULTS_KEPT
        )
        | DBTaskResult.objects.filter(
            status=TaskResultStatus.FAILED, finished_at__lt=now - FAILED_TASK_RESULTS_KEPT
        )
    ).delete()
    return deleted
