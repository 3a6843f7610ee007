"""Queue and deliver outgoing email and webhooks (Healthchecks' claim-by-conditional-
update pattern, one transport per kind)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from caredesk.core import writes
from caredesk.lib.rows import Query, insert

from .models import Delivery, DeliveryStatus, OutboundEmail, WebhookDelivery, WebhookEndpoint
from .transports import TransportError
from .transports import email as email_transport
from .transports import webhook as webhook_transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)

# Each kind of delivery and the transport that sends one row of it.
TRANSPORTS: list[tuple[type[Delivery], Callable]] = [
    (OutboundEmail, email_transport.send),
    (WebhookDelivery, webhook_transport.send),
]


def enqueue_email(
    to: list[str],
    subject: str,
    body: str,
    *,
    cc: list[str] | None = None,
    headers: dict | None = None,
    ref: str = "",
) -> OutboundEmail:
    """Queue a message; call it inside the transaction of the change that causes it.
    It gets its Message-ID now, unless ``headers`` has one: delivery is at least once (a
    worker that dies after sending sends again), and the same ID lets the receiving
    side recognise the second copy."""
    headers = dict(headers or {})
    if not any(name.lower() == "message-id" for name in headers):
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "caredesk.invalid"
        headers["Message-ID"] = make_msgid(domain=domain)
    return insert(
        OutboundEmail(to=to, cc=cc or [], subject=subject, body=body, headers=headers, ref=ref)
    )


# Compiled once: every ticket event asks it (lib/rows explains why).
_ACTIVE_ENDPOINTS = Query(lambda: WebhookEndpoint.objects.filter(active=True))


def enqueue_webhooks(event_type: str, data: Callable[[], dict]) -> int:
    """Queue ``event_type`` for every active endpoint that wants it (inside the
    transaction of the change). ``data`` builds the payload, and is only called when
    some endpoint wants the event. Returns how many deliveries were queued. The
    endpoints are read once per transaction (``writes.transaction_memo``): a group of
    API creations, a batch of mail."""
    active = writes.transaction_memo("webhook endpoints", _ACTIVE_ENDPOINTS)
    endpoints = [e for e in active if e.wants(event_type)]
    if not endpoints:
        return 0
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data()}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_type=event_type,
            msg_id=f"msg_{uuid.uuid4().hex}",
            payload=payload,
        )
        for endpoint in endpoints
    )
    return len(endpoints)


def send_again(queryset) -> int:
    """Give failed deliveries a fresh start (all their attempts again, due now): for mail
    given up while a provider or the configuration was at fault. Sent and pending rows
    are left alone. Returns how many were queued."""
    return queryset.filter(status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, capped at six hours."""
    return timedelta(minutes=min(2 ** (attempts - 1), 360))


def _unleased(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def _due(model: type[Delivery], now):
    return model.objects.filter(
        _unleased(now), status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    )


def has_due() -> bool:
    """Is there a delivery of any kind that deliver_due() could send right now?"""
    now = timezone.now()
    return any(_due(model, now).exists() for model, _ in TRANSPORTS)


def deliver_due(limit: int = 50) -> int:
    """Send what is due, of every kind; returns how many were sent.

    A row is claimed with a lease (conditional update). The outcome is written only
    while this worker still holds that very lease, so a send that outlived its lease
    cannot overwrite what the next holder recorded.
    """
    return sum(_deliver_kind(model, send, limit) for model, send in TRANSPORTS)


def _deliver_kind(model: type[Delivery], send: Callable, limit: int) -> int:
    due = _due(model, timezone.now()).order_by("next_attempt_at")[:limit]
    sent = 0
    for row in due:
        # The lease runs from the claim, not from the start of the sweep: after slow
        # sends, a lease counted from then could be over before its row is sent, and
        # another worker could send the row again.
        now = timezone.now()
        lease_until = now + LEASE
        claimed = model.objects.filter(
            _unleased(now), pk=row.pk, status=DeliveryStatus.PENDING
        ).update(leased_until=lease_until, attempts=row.attempts + 1)
        if not claimed:
            continue  # another worker has it
        row.attempts += 1
        mine = model.objects.filter(pk=row.pk, leased_until=lease_until)
        try:
            send(row)
        except TransportError as exc:
            log.warning("outbox: %s %s failed: %s", model.__name__, row.pk, exc)
            error, permanent = str(exc), exc.permanent
        except Exception as exc:
            # Transports turn the failures they know into TransportError; anything else is
            # unforeseen: retry it like a transient failure (a bug may be fixed by then) and
            # carry on with the other rows.
            log.exception("outbox: %s %s failed unexpectedly", model.__name__, row.pk)
            error, permanent = f"{type(exc).__name__}: {exc}", False
        else:
            mine.update(
                status=DeliveryStatus.SENT, sent_at=timezone.now(), leased_until=None, last_error=""
            )
            sent += 1
            continue
        failed = permanent or row.attempts >= MAX_ATTEMPTS
        mine.update(
            status=DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING,
            last_error=error[:2000],
            next_attempt_at=timezone.now() + backoff(row.attempts),
            leased_until=None,
        )
    return sent
