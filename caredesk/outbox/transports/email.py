from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from ..models import OutboundEmail
from . import TransportError


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def send(email: OutboundEmail) -> None:
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.to,
        cc=email.cc,
        headers=email.headers,
    )
    try:
        message.send(fail_silently=False)
    except (OSError, smtplib.SMTPException) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}", permanent=_is_permanent(exc)) from exc
