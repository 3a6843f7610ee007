"""API test helpers: a token for each named person, and a client that speaks JSON.

``api.get("/tickets", as_=alice)`` sends alice's token; ``as_=None`` sends none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.test import Client

from caredesk.accounts.models import ApiToken, User
from caredesk.api import ratelimit

BASE = "/api/v1"


def issue_token(user: User, name: str = "test") -> str:
    prefix = ApiToken.new_prefix()
    token = f"{prefix}_{ApiToken.new_secret()}"
    ApiToken.objects.create(user=user, name=name, prefix=prefix, token_hash=ApiToken.hash(token))
    return token


@dataclass
class Api:
    client: Client
    tokens: dict[int, str]

    def token(self, user: User) -> str:
        if user.pk not in self.tokens:
            self.tokens[user.pk] = issue_token(user)
        return self.tokens[user.pk]

    def headers(self, as_: User | None, headers: dict | None = None) -> dict:
        headers = dict(headers or {})
        if as_ is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(as_)}")
        return headers

    def get(self, path: str, *, as_: User | None, params=None, headers=None):
        return self.client.get(BASE + path, params or {}, headers=self.headers(as_, headers))

    def post(self, path: str, payload=None, *, as_: User | None, headers=None):
        """JSON body (``payload``), or none."""
        body = json.dumps(payload) if payload is not None else ""
        return self.client.post(
            BASE + path,
            body,
            content_type="application/json",
            headers=self.headers(as_, headers),
        )

    def post_form(self, path: str, data: dict, *, as_: User | None, headers=None):
        """multipart/form-data, files included."""
        return self.client.post(BASE + path, data, headers=self.headers(as_, headers))

    def delete(self, path: str, *, as_: User | None, headers=None):
        return self.client.delete(BASE + path, headers=self.headers(as_, headers))


@pytest.fixture(autouse=True)
def _fresh_rate_counts(monkeypatch):
    """The counts each process keeps in memory start empty, as the database does."""
    monkeypatch.setattr(ratelimit, "counter", ratelimit.Counter())


@pytest.fixture
def api(client) -> Api:
    return Api(client, {})


def ticket_payload(**overrides) -> dict:
    payload = {
        "subject": "Cannot add a volunteer",
        "trying_to_do": "Add Jo to the Tuesday team",
        "expected": "Jo appears in the team list",
        "actual": "Error page: Something went wrong (Request ID 7f3a)",
        "references": "jo@example.org, req-7f3a",
    }
    payload.update(overrides)
    return payload


def assert_problem(response, status: int, type: str = "about:blank") -> dict:
    """An RFC 9457 problem with every member, and the right status and type."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"] == type
    assert body["title"] and body["detail"]
    assert body["instance"] == response.wsgi_request.path
    return body
