"""``caredesk worker [--batch] [--interval S]``: the background worker.

One loop does every kind of background work:

* **tasks** — django-tasks-db's database queue (``django.tasks``), claimed and run by
  the library's own ``Worker`` machinery (row lock + claim, ``run_task``);
* **incoming mail and the outbox** — ``caredesk.mail.processing.process_pending()`` and
  ``caredesk.outbox.services.deliver_due()`` after every task and on every idle tick, so
  mail is processed and email goes out within ``--interval`` seconds;
* **housekeeping** — ``caredesk.core.housekeeping.run_if_due()``: expired bookkeeping
  rows deleted once an hour by whichever worker finds it due.

``--batch`` runs until nothing is ready (no task, no due and unleased email), then exits:
for cron, tests and benchmarks.

Stopping: SIGTERM/SIGINT let the current task or delivery finish, then exit 0; a second
signal aborts the task (it is recorded as failed). Delivery is never cut off mid-send by
the first signal.

Recovering from a crash (SIGKILL, OOM, power loss). django-tasks-db marks a claimed task
RUNNING and has no lease or heartbeat, so a task whose worker died would stay RUNNING
forever. The outbox already has a lease (``leased_until``), so undelivered email simply
becomes due again. For tasks, this worker applies the same idea:

1. A RUNNING task started more than ``--stale-after`` seconds ago (default 15 minutes;
   caredesk's tasks take seconds) is presumed orphaned: it goes back to READY and runs
   again. Every worker checks at start-up and once a minute; the conditional UPDATE
   means two workers cannot both requeue it.
2. A worker started with a stable ``--worker-id`` (one per worker, e.g. the systemd
   instance name; ``make run`` uses ``<hostname>-run``) requeues at start-up, without
   waiting, the tasks that its own previous life left RUNNING.
3. A task already claimed ``--max-attempts`` times (default 3) is not requeued but
   marked FAILED with ``WorkerLost``, so a task that kills its worker cannot loop.

The consequence, documented for task authors: a task may run more than once, so tasks
must be idempotent (as the outbox is), and must finish well within ``--stale-after``.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.core.management.base import BaseCommand
from django.db import OperationalError, close_old_connections, connections
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker as DBWorker
from django_tasks_db.management.commands.db_worker import (
    valid_backend_name,
    valid_interval,
    valid_max_tasks,
    validate_worker_id,
)
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from caredesk.core import checkpoints, housekeeping
from caredesk.mail.parse_ahead import ParseAhead
from caredesk.mail.processing import has_pending as has_pending_mail
from caredesk.mail.processing import process_pending
from caredesk.outbox.services import deliver_due
from caredesk.outbox.services import has_due as has_due_deliveries

logger = logging.getLogger("caredesk.worker")

RECOVERY_EVERY = 60.0  # seconds between checks for orphaned RUNNING tasks
HOUSEKEEPING_CHECK_EVERY = 300.0  # seconds between asking whether housekeeping is due


class WorkerLost(Exception):
    """Recorded on a task whose workers died under it ``--max-attempts`` times."""


class Worker(DBWorker):
    """django-tasks-db's worker, plus the outbox and the recovery of orphaned tasks.

    ``run()`` follows the shape of ``DBWorker.run()`` (django-tasks-db 0.13.0) and reuses
    its claim primitives and ``run_task``; only the loop is ours, so that the outbox runs
    every loop and ``--batch`` also waits for the outbox to drain.
    """

    def __init__(self, *, stale_after: timedelta, max_attempts: int, **kwargs):
        super().__init__(**kwargs)
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self._next_recovery = 0.0
        self._next_housekeeping = 0.0
        self._ahead: ParseAhead | None = None

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        logger.info(
            "Worker %s started: queues=%s, outbox every %ss%s",
            self.worker_id,
            ",".join(self.queue_names),
            self.interval,
            " (batch)" if self.batch else "",
        )
        with self._busy():
            self.recover_own_tasks()
        if self.startup_delay and self.interval and not self.batch:
            time.sleep(random.random())  # spread a fleet restarted at once
        # A running worker parses incoming mail on the other core (mail/parse_ahead.py);
        # a batch run (tests, cron) parses in this process.
        self._ahead = None if self.batch else ParseAhead()
        try:
            self._loop()
        finally:
            if self._ahead is not None:
                self._ahead.close()

    def _loop(self) -> None:
        while self.running:
            self._close_old_connections()  # drop dead connections right after waking up
            with self._busy():
                if time.monotonic() >= self._next_recovery and self._recover_stale_tasks():
                    self._next_recovery = time.monotonic() + RECOVERY_EVERY
                self._housekeeping()
                task_result, retrieved = self._claim_next_task()
            if task_result is not None:
                self.run_task(task_result)  # sets and clears running_task itself
            with self._busy():
                sent = self._deliver_outbox()

            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Worker %s ran %d tasks; exiting.", self.worker_id, self._run_tasks)
                return
            if self.batch and retrieved and task_result is None and not self._outbox_ready():
                logger.info("Worker %s: nothing left to do; exiting.", self.worker_id)
                return
            self._close_old_connections()
            if self.running and task_result is None and not sent:
                time.sleep(self.interval)  # SIGTERM here exits at once (DBWorker.shutdown)

    @staticmethod
    def _close_old_connections() -> None:
        """Like a request's end: drop broken or expired connections. Not inside a
        transaction (call_command() in a test), where closing would lose it."""
        if not any(c.in_atomic_block for c in connections.all(initialized_only=True)):
            close_old_connections()

    @contextmanager
    def _busy(self):
        """While set, the first SIGTERM only asks the loop to stop after this step."""
        self.running_task = True
        try:
            yield
        finally:
            self.running_task = False

    # ------------------------------------------------------------------ tasks

    def _claim_next_task(self) -> tuple[DBTaskResult | None, bool]:
        """Lock and claim the next ready task, as DBWorker does; (task, retrieved)."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None, False  # SQLite busy: try again next loop
            raise
        return task_result, True

    def recover_own_tasks(self) -> int:
        """Requeue what an earlier process with this same worker id left RUNNING."""
        mine = [
            result
            for result in self._running().order_by()
            if result.worker_ids and result.worker_ids[-1] == self.worker_id
        ]
        return self._requeue(mine, "its worker restarted")

    def recover_stale_tasks(self) -> int:
        cutoff = timezone.now() - self.stale_after
        stale = list(self._running().filter(started_at__lt=cutoff).order_by())
        return self._requeue(stale, f"running for more than {self.stale_after}")

    def _recover_stale_tasks(self) -> bool:
        """recover_stale_tasks(), or False if SQLite was busy (try again next loop)."""
        try:
            self.recover_stale_tasks()
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            return False
        return True

    def _running(self):
        return DBTaskResult.objects.running().filter(backend_name=self.backend_name)

    def _requeue(self, results: list[DBTaskResult], why: str) -> int:
        recovered = 0
        for result in results:
            # Conditional on the state we read, so two workers never both act on it.
            still = DBTaskResult.objects.filter(
                pk=result.pk, status=TaskResultStatus.RUNNING, started_at=result.started_at
            )
            attempts = len(result.worker_ids)
            if attempts >= self.max_attempts:
                changed = still.update(
                    status=TaskResultStatus.FAILED,
                    finished_at=timezone.now(),
                    exception_class_path=f"{__name__}.{WorkerLost.__qualname__}",
                    traceback=(
                        f"{WorkerLost.__qualname__}: the worker running this task stopped "
                        f"{attempts} times ({', '.join(result.worker_ids)}); not retried."
                    ),
                    return_value=None,
                )
                if changed:
                    logger.error(
                        "Task %s (%s) failed: %s, after %d attempts",
                        result.pk,
                        result.task_path,
                        why,
                        attempts,
                    )
            else:
                changed = still.update(status=TaskResultStatus.READY, started_at=None)
                if changed:
                    logger.warning(
                        "Task %s (%s) requeued: %s (attempt %d of %d)",
                        result.pk,
                        result.task_path,
                        why,
                        attempts,
                        self.max_attempts,
                    )
            recovered += changed
        return recovered

    def _housekeeping(self) -> None:
        """Once an hour across all workers (housekeeping.run_if_due); never in --batch,
        whose runs are for draining queues."""
        if self.batch or time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_CHECK_EVERY
        try:
            housekeeping.run_if_due()
        except OperationalError as exc:  # SQLite busy: ask again at the next check
            logger.warning("housekeeping skipped: %s", exc)

    # ------------------------------------------------------------------ outbox

    def _deliver_outbox(self) -> int:
        """One pass of every sweep: incoming mail first (in arrival order, one worker at
        a time), then due deliveries of every kind. Returns how much was done."""
        done = 0
        sweeps = (partial(process_pending, ahead=self._ahead), deliver_due)
        for sweep in sweeps:
            try:
                done += sweep()
            except Exception:
                if self.batch:
                    raise  # a batch run must fail loudly, not spin
                name = getattr(sweep, "func", sweep).__name__
                logger.exception("%s failed; retrying in %ss", name, self.interval)
        return done

    @staticmethod
    def _outbox_ready() -> bool:
        """Is there mail to process or a delivery deliver_due() could send right now?"""
        return has_pending_mail() or has_due_deliveries()


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class Command(BaseCommand):
    help = "Run the background worker: database task queue and outbox delivery."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run every ready task and deliver every due email, then exit.",
        )
        parser.add_argument(
            "--interval",
            type=valid_interval,
            default=1.0,
            help="Seconds to sleep when there is nothing to do (default: %(default)s).",
        )
        parser.add_argument(
            "--queue-name",
            default=DEFAULT_TASK_QUEUE_NAME,
            help="Queues to run, comma-separated; '*' for all (default: %(default)s).",
        )
        parser.add_argument(
            "--backend",
            dest="backend_name",
            type=valid_backend_name,
            default=DEFAULT_TASK_BACKEND_ALIAS,
            help="Task backend alias (default: %(default)s).",
        )
        parser.add_argument(
            "--worker-id",
            type=validate_worker_id,
            default=None,
            help="Unique id of this worker. Give a stable one (e.g. host + slot) to have "
            "tasks it left RUNNING when it crashed requeued as soon as it restarts "
            "(default: <hostname>-<pid>).",
        )
        parser.add_argument(
            "--max-tasks",
            type=valid_max_tasks,
            default=None,
            help="Exit after running this many tasks.",
        )
        parser.add_argument(
            "--stale-after",
            type=float,
            default=900.0,
            help="Seconds after which a RUNNING task is presumed orphaned by a crashed "
            "worker and requeued (default: %(default)s).",
        )
        parser.add_argument(
            "--max-attempts",
            type=int,
            default=3,
            help="Claims after which an orphaned task is failed, not requeued "
            "(default: %(default)s).",
        )

    def handle(self, *args, **options):
        self._configure_logging(options["verbosity"])
        if not options["batch"]:
            checkpoints.start()
        worker = Worker(
            queue_names=options["queue_name"].split(","),
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=not options["batch"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"] or default_worker_id(),
            excluded_queue_names=[],
            stale_after=timedelta(seconds=options["stale_after"]),
            max_attempts=max(1, options["max_attempts"]),
        )
        # Signal handlers can only be set from the main thread; restore the previous
        # ones afterwards so that call_command() in a test leaves no trace.
        handles_signals = threading.current_thread() is threading.main_thread()
        signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
        previous = {sig: signal.getsignal(sig) for sig in signals} if handles_signals else {}
        if handles_signals:
            worker.configure_signals()
        try:
            worker.run()
        except SystemExit as exc:  # DBWorker.shutdown() exits this way while idle
            if exc.code not in (0, None):
                raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("Worker %s stopped.", worker.worker_id)

    @staticmethod
    def _configure_logging(verbosity: int) -> None:
        level = {0: logging.ERROR, 1: logging.INFO}.get(verbosity, logging.DEBUG)
        for name in ("django.tasks", "django_tasks_db", "caredesk.worker"):
            logging.getLogger(name).setLevel(level)
