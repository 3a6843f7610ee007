from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.template import loader

from caredesk.core import ratelimit
from caredesk.outbox.services import enqueue_email

from .models import User


class RateLimitedLoginForm(AuthenticationForm):
    """Email + password sign-in, limited per email and per client address so a password
    cannot be guessed by brute force."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's default says "both fields may be case-sensitive"; the email is not.
        "invalid_login": (
            "That email address and password do not match. "
            "Check them and try again: the password is case-sensitive."
        ),
        "rate_limited": "Too many sign-in attempts. Wait a few minutes and try again.",
    }

    def clean(self):
        email = self.data.get("username") or ""
        limit, window = settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_WINDOW
        if not ratelimit.hit_person_and_client(
            "login", self.request, email, limit=limit, client_limit=limit * 5, window=window
        ):
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        cleaned = super().clean()
        if self.user_cache is not None:
            # Only a correct password clears the count. super().clean() also returns
            # quietly when the password is empty, and resetting then would let anyone
            # interleave empty submissions with guesses and never reach the limit.
            ratelimit.reset_person("login", email)
        return cleaned


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset flow, but the mail goes through the outbox (sent by the worker).

    Unlike Django's default, people without a usable password are included: requesters
    who only ever wrote by email or through the widget set their first password this
    way to reach their tickets in the portal. Deactivated accounts stay excluded.
    """

    error_messages = {
        "rate_limited": "Too many reset requests. Wait an hour, or check your spam folder "
        "for the mail we sent.",
    }

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        """Limited per address and per client, so the form cannot be used to flood a
        mailbox. The same answer whether the address has an account or not."""
        cleaned = super().clean()
        email = cleaned.get("email") or ""
        limit, window = settings.PASSWORD_RESET_RATE_LIMIT, settings.PASSWORD_RESET_RATE_WINDOW
        if not ratelimit.hit_person_and_client(
            "reset", self.request, email, limit=limit, client_limit=limit * 5, window=window
        ):
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        return cleaned

    def get_users(self, email):
        return User.objects.by_email(email).filter(is_active=True)

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
