"""Queue and deliver outgoing email (Healthchecks' claim-by-conditional-update pattern)."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import timezone

from .models import DeliveryStatus, OutboundEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)


def enqueue_email(
    to: list[str],
    subject: str,
    body: str,
    *,
    cc: list[str] | None = None,
    headers: dict | None = None,
    ref: str = "",
) -> OutboundEmail:
    """Queue a message; call it inside the transaction of the change that causes it."""
    return OutboundEmail.objects.create(
        to=to, cc=cc or [], subject=subject, body=body, headers=headers or {}, ref=ref
    )


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, capped at six hours."""
    return timedelta(minutes=min(2 ** (attempts - 1), 360))


def _unleased(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def _claim(email: OutboundEmail, now, lease_until) -> bool:
    return bool(
        OutboundEmail.objects.filter(
            _unleased(now), pk=email.pk, status=DeliveryStatus.PENDING
        ).update(leased_until=lease_until, attempts=email.attempts + 1)
    )


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def deliver(email: OutboundEmail) -> None:
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.to,
        cc=email.cc,
        headers=email.headers,
    )
    message.send(fail_silently=False)


def deliver_due(limit: int = 50) -> int:
    """Send what is due; returns how many were sent.

    A row is claimed with a lease (conditional update). The outcome is written only
    while this worker still holds that very lease, so a send that outlived its lease
    cannot overwrite what the next holder recorded.
    """
    now = timezone.now()
    due = OutboundEmail.objects.filter(
        _unleased(now), status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at")[:limit]
    sent = 0
    for email in due:
        lease_until = now + LEASE
        if not _claim(email, now, lease_until):
            continue  # another worker has it
        email.attempts += 1
        mine = OutboundEmail.objects.filter(pk=email.pk, leased_until=lease_until)
        try:
            deliver(email)
        except Exception as exc:
            log.warning("outbox: sending %s failed: %s", email.pk, exc)
            failed = _is_permanent(exc) or email.attempts >= MAX_ATTEMPTS
            mine.update(
                status=DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=timezone.now() + backoff(email.attempts),
                leased_until=None,
            )
            continue
        mine.update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), leased_until=None, last_error=""
        )
        sent += 1
    return sent
