"""The one way in: store the raw bytes (committed) before anything else looks at them.

The SMTP server, the IMAP poller and provider webhooks call ``receive()`` and nothing
else; the worker then runs ``processing.process_pending()`` over what was stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.db import transaction

from caredesk.core.writes import one_writer
from caredesk.lib.rows import insert

from .models import InboundMessage


def receive(
    raw: bytes,
    *,
    transport: str,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
    mailbox: str = "",
) -> InboundMessage:
    """Store one message durably and return its row (committed when this returns)."""
    with one_writer(), transaction.atomic():
        return insert(
            InboundMessage(
                transport=transport,
                mailbox=mailbox[:200],
                envelope_from=envelope_from[:998],
                envelope_to=list(envelope_to),
                raw=raw,
                size=len(raw),
                sha256=hashlib.sha256(raw).hexdigest(),
            )
        )
