"""The two tokens of the support widget.

**User token** (made by the host app, checked here): who is signed in on the platform
page that embeds the widget. Format, kept simple enough to write in any language::

    base64url(JSON {"email", "name", "org"?, "exp"}) + "." + base64url(HMAC-SHA256(secret, part1))

without ``=`` padding; the MAC covers the first part exactly as sent; ``exp`` is a Unix
time in seconds. A token that fails any check is simply not an identity: the form then
asks for an email address, as for anyone else.

**Form token** (made and checked here): the iframe form's replacement for Django's CSRF
cookie, which a third-party iframe does not receive (SameSite=Lax). It is signed,
salted and short-lived, and it carries the host page's origin as seen when the form was
served, so the submission can record it. See docs/widget.md for why this is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_TOKEN_CHARS = 4096
FORM_SALT = "caredesk.widget.form"


# ---------------------------------------------------------------- user token


@dataclass(frozen=True)
class WidgetUser:
    email: str
    name: str = ""
    org: str = ""

    @property
    def display(self) -> str:
        return f"{self.name} ({self.email})" if self.name else self.email


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, signed_part: str) -> str:
    digest = hmac.new(secret.encode(), signed_part.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest)


def sign_user_token(
    email: str,
    name: str = "",
    org: str = "",
    *,
    ttl: int = 3600,
    secret: str | None = None,
    now: float | None = None,
) -> str:
    """What a host app does (docs/widget.md has the same in a dozen lines); used by tests."""
    payload = {"email": email, "name": name, "exp": int((now or time.time()) + ttl)}
    if org:
        payload["org"] = org
    part = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{part}.{_mac(secret or settings.CAREDESK_WIDGET_SECRET, part)}"


def verify_user_token(token: str, *, now: float | None = None) -> WidgetUser | None:
    """The signed-in platform user, or None for a missing, forged, expired or malformed
    token (or when no secret is configured). Never raises on bad input."""
    secret = settings.CAREDESK_WIDGET_SECRET
    if not secret or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    part, mac = token.split(".")
    try:
        expected = _mac(secret, part)
    except UnicodeEncodeError:  # non-ASCII: cannot be ours
        return None
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        return None
    try:
        payload = json.loads(_b64decode(part))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    exp, email = payload.get("exp"), payload.get("email")
    now = time.time() if now is None else now
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
        return None
    if exp > now + settings.CAREDESK_WIDGET_TOKEN_MAX_AGE:
        return None  # a token that lives for months is a password: refuse it
    if not isinstance(email, str):
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    name, org = payload.get("name", ""), payload.get("org", "")
    return WidgetUser(
        email=email.strip().lower(),
        name=name.strip()[:200] if isinstance(name, str) else "",
        org=org.strip()[:200] if isinstance(org, str) else "",
    )


# ---------------------------------------------------------------- form token


class FormTokenInvalid(Exception):
    """Missing or forged: the request did not come from a form we served."""


class FormTokenExpired(FormTokenInvalid):
    """Genuine but too old: the form was open for longer than the allowed time."""

    def __init__(self, message: str, claims: dict):
        super().__init__(message)
        self.claims = claims


def make_form_token(referrer_origin: str = "") -> str:
    return signing.dumps({"o": referrer_origin}, salt=FORM_SALT)


def check_form_token(token: str) -> dict:
    """The token's claims (``{"o": referrer_origin}``), or FormTokenInvalid/Expired."""
    if not token:
        raise FormTokenInvalid("no form token")
    try:
        claims = signing.loads(token, salt=FORM_SALT, max_age=settings.CAREDESK_WIDGET_FORM_MAX_AGE)
    except signing.SignatureExpired as err:
        claims = signing.loads(token, salt=FORM_SALT)  # genuine: the signature checked out
        if not isinstance(claims, dict) or not isinstance(claims.get("o", ""), str):
            claims = {}
        raise FormTokenExpired(str(err), claims) from None
    except signing.BadSignature as err:
        raise FormTokenInvalid(str(err)) from None
    if not isinstance(claims, dict) or not isinstance(claims.get("o", ""), str):
        raise FormTokenInvalid("unexpected claims")
    return claims
