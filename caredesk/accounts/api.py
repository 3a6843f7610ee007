"""API: personal access tokens, and who the caller is.

A token is shown once, when it is created; the database keeps only its SHA-256 (see
``ApiToken``). Creating one checks the password, so it shares the web sign-in's rate limit
(the same counters: an attacker cannot double their guesses by using both).

Replaying a token creation (same ``Idempotency-Key``) must answer the same token without
the database ever holding it: a token created with a key has its secret derived, with
the site's SECRET_KEY, from the user, the token's prefix and the key — which is stored
only as a hash. The replay derives it again.
"""

from __future__ import annotations

import base64
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac
from ninja import Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from caredesk.api import idempotency
from caredesk.api.auth import api_user
from caredesk.api.bodies import fingerprint, text
from caredesk.api.errors import ApiProblem, responses
from caredesk.core import ratelimit

from .choices import OrganizationKind, Role
from .models import ApiToken, User

router = Router(tags=["auth"])


Email = text(254, min_length=1)
TokenName = text(100, min_length=1)


class TokenRequest(Schema):
    email: Email = Field(examples=["alice@example.org"])
    password: str = Field(min_length=1, max_length=4096)
    name: TokenName = Field(
        "API token", description="What the token is for, shown in listTokens (e.g. the device)."
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters: not secret.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute.")


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself. Shown this once: store it safely.")


class OrganizationOut(Schema):
    id: int
    name: str
    kind: OrganizationKind


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: Role
    organization: OrganizationOut | None


def _token_out(row: ApiToken) -> dict:
    return TokenOut.model_validate(row, from_attributes=True).model_dump(mode="json")


def _derived_secret(user: User, prefix: str, key: str) -> str:
    digest = salted_hmac(
        "caredesk.accounts.api.token", f"{user.pk}|{prefix}|{key}", algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def _check_password_rate(request: HttpRequest, email: str) -> None:
    limit, window = settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_WINDOW
    if not ratelimit.hit_person_and_client(
        "login", request, email, limit=limit, client_limit=limit * 5, window=window
    ):
        raise ApiProblem(
            429,
            "Too many sign-in attempts. Wait a few minutes and try again.",
            headers={"Retry-After": str(window)},
        )


@router.post(
    "/token",
    auth=None,
    response={201: TokenCreated, **responses(400, 401, 422)},
    operation_id="issueToken",
    summary="Create a personal access token",
)
def issue_token(
    request: HttpRequest,
    payload: TokenRequest,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> HttpResponse:
    """Sign in with email and password; the answer holds the new token, shown only here."""
    email = payload.email.strip().lower()
    _check_password_rate(request, email)
    user = authenticate(request, username=email, password=payload.password)
    if user is None:
        raise AuthenticationError(401, "That email address and password do not match.")
    ratelimit.reset_person("login", email)  # as the web sign-in: only success clears it

    def create() -> dict:
        prefix = ApiToken.new_prefix()
        secret = _derived_secret(user, prefix, idempotency_key) if idempotency_key else None
        token = f"{prefix}_{secret or ApiToken.new_secret()}"
        row = ApiToken.objects.create(
            user=user, name=payload.name, prefix=prefix, token_hash=ApiToken.hash(token)
        )
        return {**_token_out(row), "token": token}

    def restore(stored: dict) -> dict:
        secret = _derived_secret(user, stored["prefix"], idempotency_key or "")
        return {**stored, "token": f"{stored['prefix']}_{secret}"}

    return idempotency.respond(
        request,
        user=user,
        key=idempotency_key,
        # The password is not part of it: the fingerprint must not be a fast hash of it.
        fingerprint=fingerprint(request, {"email": email, "name": payload.name}),
        status=201,
        create=create,
        redact=lambda answer: {**answer, "token": None},
        restore=restore,
    )


@router.get(
    "/tokens",
    response={200: list[TokenOut], **responses(401)},
    operation_id="listTokens",
    summary="List your tokens",
)
def list_tokens(request: HttpRequest):
    """Your tokens, newest first; never the tokens themselves."""
    return ApiToken.objects.filter(user=api_user(request)).order_by("-id")


@router.delete(
    "/tokens/{token_id}",
    response={204: None, **responses(401, 404, 422)},
    operation_id="revokeToken",
    summary="Revoke a token",
)
def revoke_token(request: HttpRequest, token_id: int):
    """The token stops working at once (its next use is a 401)."""
    deleted, _ = ApiToken.objects.filter(user=api_user(request), pk=token_id).delete()
    if not deleted:
        raise ApiProblem(404, "No such token.")
    return Status(204, None)


@router.get(
    "/me",
    response={200: MeOut, **responses(401)},
    operation_id="getMe",
    summary="Who you are",
)
def me(request: HttpRequest):
    """The authenticated user, with their role and organization."""
    return api_user(request)
