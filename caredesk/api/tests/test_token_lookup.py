"""A token check is a lookup, not a password hash (caredesk/api/auth.py, ``ApiToken``).

Every way Django has to run a password hasher is replaced by a trap that records the call
and raises; a bearer-token request must get its answer without springing it. The control
test proves the trap does catch a password check (signing in with a password).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import hashers
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.accounts.models import ApiToken, User
from caredesk.conftest import PASSWORD

from .conftest import BASE, assert_problem

HASHER_METHODS = ("verify", "encode", "decode", "harden_runtime", "must_update", "salt")
HASHER_FUNCTIONS = (
    "verify_password",
    "check_password",
    "acheck_password",
    "make_password",
    "identify_hasher",
)
USER_METHODS = ("check_password", "acheck_password", "set_password", "set_unusable_password")


def _hasher_classes() -> set[type]:
    """The configured hashers' classes, and every hasher class Django ships."""
    found = {type(hasher) for hasher in hashers.get_hashers()}
    pending = [hashers.BasePasswordHasher]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.fixture
def hashing(monkeypatch) -> list[str]:
    """The names of the hashing functions called while the test runs (each raises)."""
    calls: list[str] = []

    def trap(name: str):
        def sprung(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} ran: a password hasher was used")

        return sprung

    for cls in _hasher_classes():
        for method in HASHER_METHODS:
            if method in vars(cls):
                monkeypatch.setattr(cls, method, trap(f"{cls.__name__}.{method}"))
    for function in HASHER_FUNCTIONS:
        monkeypatch.setattr(hashers, function, trap(f"hashers.{function}"))
    for method in USER_METHODS:
        monkeypatch.setattr(User, method, trap(f"User.{method}"))
    return calls


def _me(client, token: str):
    return client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_the_trap_catches_a_password_check(client, alice, hashing):
    response = client.post(
        f"{BASE}/auth/token",
        {"email": alice.email, "password": PASSWORD},
        content_type="application/json",
    )

    assert hashing  # the password was checked, through a trapped function
    assert response.status_code != 201
    assert not ApiToken.objects.exists()


def test_a_valid_token_authenticates_without_a_password_hash(client, api, alice, hashing):
    token = api.token(alice)

    with CaptureQueriesContext(connection) as queries:
        response = _me(client, token)

    assert hashing == []
    assert response.status_code == 200, response.content
    assert response.json()["email"] == alice.email
    # One lookup of the token row (its user and organization joined in).
    token_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT") and "accounts_apitoken" in q["sql"]
    ]
    assert len(token_reads) == 1
    assert "accounts_user" in token_reads[0]


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(
            lambda token: token[:-4] + ("aaaa" if token[-4:] != "aaaa" else "bbbb"),
            id="known-prefix-wrong-secret",
        ),
        pytest.param(lambda token: "cd_zzzzzzzz" + token[11:], id="unknown-prefix"),
        pytest.param(lambda token: token[:-1], id="malformed"),
        pytest.param(lambda token: PASSWORD, id="a-password"),
    ],
)
def test_a_wrong_token_is_a_401_without_a_password_hash(client, api, alice, hashing, wrong):
    token = api.token(alice)
    bad = wrong(token)
    assert bad != token

    response = _me(client, bad)

    assert hashing == []
    body = assert_problem(response, 401)
    assert "not valid" in body["detail"]


def test_a_deactivated_users_token_is_a_401_without_a_password_hash(client, api, alice, hashing):
    token = api.token(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = _me(client, token)

    assert hashing == []
    assert_problem(response, 401)
