from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.template import loader

from caredesk.core import ratelimit
from caredesk.outbox.services import enqueue_email


class RateLimitedLoginForm(AuthenticationForm):
    """Email + password sign-in, limited per email and per client address so a password
    cannot be guessed by brute force."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "rate_limited": "Too many sign-in attempts. Wait a few minutes and try again.",
    }

    def clean(self):
        email = (self.data.get("username") or "").strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        limit, window = settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_WINDOW
        within = ratelimit.hit("login-email", email, limit=limit, window=window)
        within = ratelimit.hit("login-ip", address, limit=limit * 5, window=window) and within
        if not within:
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        cleaned = super().clean()
        ratelimit.reset("login-email", email)
        return cleaned


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset flow, but the mail goes through the outbox (sent by the worker)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        enqueue_email([to_email], subject, body, ref="password-reset")
