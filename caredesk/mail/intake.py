"""The one way in: store the raw bytes (committed) before anything else looks at them.

The SMTP server, the IMAP poller and provider webhooks call ``receive()`` and nothing
else; the worker then runs ``processing.process_pending()`` over what was stored. On
SQLite the bytes are committed to the intake's own file and the worker moves them into
the ledger (``spool``); on PostgreSQL they go into the ledger at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from caredesk.core.writes import one_writer
from caredesk.lib.rows import insert

from . import spool
from .models import InboundMessage


def receive(
    raw: bytes,
    *,
    transport: str,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
    mailbox: str = "",
) -> str:
    """Store one message durably (committed when this returns); returns its queue id."""
    arrival = {
        "queue_id": spool.new_queue_id(),
        "received_at": timezone.now(),
        "transport": transport,
        "mailbox": mailbox[:200],
        "envelope_from": envelope_from[:998],
        "envelope_to": list(envelope_to),
    }
    if spool.enabled():
        spool.put(raw, **arrival)  # the ledger row is built when the worker moves it
    else:
        with one_writer(), transaction.atomic():
            insert(InboundMessage.received(raw, **arrival))
    return arrival["queue_id"]
