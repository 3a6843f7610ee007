"""Housekeeping: delete the bookkeeping rows that only matter for a while.

Help-desk data (tickets, messages, events, the mail ledger, sent email) is kept. What
goes is what would otherwise grow for as long as the desk runs and is never read once it
is old: expired API idempotency records and past rate-limit windows, the per-sender
auto-reply log beyond its one-hour cap, presence marks of people long gone, expired
sessions, and finished background-task results.

The worker runs every sweep once an hour (whichever worker first finds the hour due: a
``Lease`` whose holder is new each time, so it is taken only when absent or expired);
``caredesk housekeeping`` runs them at once. Each sweep is a function returning how many
rows it deleted; they are named here by dotted path, so the list is the one place to
read what is deleted, and no app imports another for it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.utils.module_loading import import_string

from .models import Lease

log = logging.getLogger(__name__)

EVERY = timedelta(hours=1)
LEASE_NAME = "housekeeping"

SWEEPS = (
    "caredesk.api.idempotency.purge_expired",
    "caredesk.api.ratelimit.purge_past_windows",
    "caredesk.mail.outbound.purge_auto_reply_log",
    "caredesk.tickets.presence.purge_departed",
    "caredesk.core.sweeps.clear_expired_sessions",
    "caredesk.core.sweeps.prune_task_results",
)


def run() -> dict[str, int]:
    """Every sweep now; the rows each deleted. One failing sweep does not stop the rest."""
    deleted: dict[str, int] = {}
    for path in SWEEPS:
        try:
            deleted[path] = import_string(path)()
        except Exception:
            log.exception("housekeeping: %s failed", path)
    return deleted


def run_if_due() -> dict[str, int] | None:
    """``run()`` if no worker has run it in the last hour; None if it was not due."""
    if not Lease.acquire(LEASE_NAME, uuid.uuid4().hex, EVERY):
        return None
    deleted = run()
    if any(deleted.values()):
        log.info("housekeeping: %s", {k.rsplit(".", 1)[-1]: n for k, n in deleted.items() if n})
    return deleted
