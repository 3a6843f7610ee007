"""Email through Django's default mailer: SMTP, or a provider's HTTP API through
django-anymail (settings: EMAIL_BACKEND). This module knows both libraries' errors and
says which ones retrying cannot fix (``TransportError.permanent``)."""

from __future__ import annotations

import smtplib

from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage

from caredesk.lib.text import one_line

from ..models import OutboundEmail
from . import TransportError

# Provider API answers in the 4xx range reject this very request (bad address, unverified
# sender domain): sending it again gets the same answer. Except these, which ask to come
# back later, or name a setup problem an operator will fix (a rotated or mistyped key):
# the backoff gives them hours (MAX_ATTEMPTS) before the mail is given up.
RETRYABLE_CLIENT_ERRORS = {
    401,  # Unauthorized: the API key
    403,  # Forbidden: the key's rights, an account on hold
    408,  # Request Timeout
    429,  # Too Many Requests
}

# Errors that name what is wrong with the message or the setup, not with the network.
PERMANENT_ERRORS = (
    AnymailRecipientsRefused,  # every recipient refused or invalid
    AnymailInvalidAddress,  # an address the provider's API cannot take
    AnymailUnsupportedFeature,  # a header or option this provider cannot send
    AnymailSerializationError,
)
# A MAILERS / anymail configuration error (a missing API key, …) is the setup's fault, not
# the message's: retried like the network, so that mail queued while an operator fixes
# the configuration goes out once it is fixed.


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, PERMANENT_ERRORS):
        return True
    if isinstance(exc, AnymailAPIError):
        # No status: the request never got an answer (network); 5xx: the provider's fault.
        code = exc.status_code
        return code is not None and 400 <= code < 500 and code not in RETRYABLE_CLIENT_ERRORS
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def send(email: OutboundEmail) -> None:
    message = EmailMessage(
        # A line break in a header is refused, and would fail every attempt: rows queued
        # with one (before subjects were made one line) still leave.
        subject=one_line(email.subject),
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.to,
        cc=email.cc,
        headers=email.headers,
    )
    try:
        message.send(fail_silently=False)
    except (OSError, smtplib.SMTPException, AnymailError, ImproperlyConfigured) as exc:
        raise TransportError(_describe(exc, message), permanent=_is_permanent(exc)) from exc


def _describe(exc: Exception, message: EmailMessage) -> str:
    """The error as an agent reads it on the ticket page. anymail's API errors already
    include the provider's answer; its AnymailRecipientsRefused names neither the
    recipients nor the provider's reason, so add both."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AnymailRecipientsRefused):
        status = getattr(message, "anymail_status", None)
        refused = [
            f"{address}: {recipient.status}"
            for address, recipient in getattr(status, "recipients", {}).items()
            if recipient.status in ("rejected", "invalid")
        ]
        if refused:
            text += f" ({', '.join(refused)})"
        # The provider's HTTP answer (a requests.Response, from the HTTP API backends).
        answer = getattr(exc.response, "text", None)
        if exc.status_code is None and answer:
            provider = exc.esp_name or "the provider"
            text += f"; {provider} answered {exc.response.status_code}: {answer.strip()}"
    return text
