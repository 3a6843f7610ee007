"""Who is calling: a personal access token (``Authorization: Bearer cd_…``) or, for the web
pages' own scripts, the session cookie with Django's CSRF check.

A token check is one indexed lookup (the token's prefix, joined to its user and their
organization) and a constant-time comparison of SHA-256 hashes: no password hash per
request. ``last_used_at`` is written at most once a minute per token.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from caredesk.accounts.models import ApiToken, User
from caredesk.core.writes import one_writer
from caredesk.lib.rows import Query

LAST_USED_RESOLUTION = timedelta(minutes=1)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


# Compiled once: every API request asks it (lib/rows explains why).
_BY_PREFIX = Query(
    lambda prefix: ApiToken.objects.select_related("user", "user__organization").filter(
        prefix=prefix
    )[:1],
    str,
)


def find_token(token: str) -> ApiToken | None:
    """The live token row for ``token``, with its user loaded; None if unknown/revoked."""
    parts = ApiToken.split(token)
    if parts is None:
        return None
    row = _BY_PREFIX.first(parts[0])
    if row is None or not row.matches(token) or not row.user.is_active:
        return None
    return row


def touch(row: ApiToken) -> None:
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional: of the requests that see a stale value at once, one writes.
        with one_writer():
            ApiToken.objects.filter(pk=row.pk, last_used_at=row.last_used_at).update(
                last_used_at=now
            )
        row.last_used_at = now


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``. A request that presents a bearer token is judged
    by it alone: a bad token is a 401 even if a session cookie came along."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        row = find_token(token.strip())
        if row is None:
            raise AuthenticationError(401, "The token is not valid or has been revoked.")
        touch(row)
        request.api_token = row
        return row.user


class SessionAuth(APIKeyCookie):
    """Django's session, for the web pages' own scripts and the docs page. Unsafe methods
    must pass Django's CSRF check (the ``X-CSRFToken`` header and cookie)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        # Our own CSRF check below, after the session is known: an anonymous request is
        # a 401 (sign in), not a 403 (CSRF).
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header.")
        return user


def api_user(request: HttpRequest) -> User:
    """The authenticated caller (set by TokenAuth or SessionAuth)."""
    return request.auth  # type: ignore[attr-defined]
