"""Personal access tokens: issue, use, list, revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from caredesk.accounts.models import ApiToken
from caredesk.conftest import PASSWORD

from .conftest import BASE, assert_problem


def _issue(client, email="alice@acme.test", password=PASSWORD, headers=None, **extra):
    return client.post(
        f"{BASE}/auth/token",
        {"email": email, "password": password, **extra},
        content_type="application/json",
        headers=headers or {},
    )


def _all_database_text() -> str:
    """Every value of every table, as text: to prove a secret is nowhere."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table.startswith("tickets_fts"):
                continue  # the FTS5 shadow tables hold tokenized ticket text only
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_it_issues_a_token_shown_once_and_stores_only_its_hash(client, alice):
    response = _issue(client, name="Alice's phone")

    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert token.startswith("cd_") and len(token) == 44
    assert body["prefix"] == token[:11]
    assert body["name"] == "Alice's phone"
    assert body["last_used_at"] is None
    row = ApiToken.objects.get()
    assert row.user == alice and row.prefix == token[:11]
    assert token not in _all_database_text()
    assert token[12:] not in _all_database_text()


def test_the_token_authenticates_requests(client, api, alice):
    token = _issue(client).json()["token"]

    response = client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["email"] == "alice@acme.test"
    assert response.json()["organization"]["name"] == "Acme Network"


def test_it_refuses_a_wrong_password(client, alice):
    response = _issue(client, password="wrong")

    body = assert_problem(response, 401)
    assert "do not match" in body["detail"]
    assert ApiToken.objects.count() == 0


def test_it_refuses_an_unknown_email_the_same_way(client, db):
    body = assert_problem(_issue(client, email="nobody@example.org"), 401)
    assert "do not match" in body["detail"]


def test_password_sign_in_is_rate_limited(client, alice, settings):
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(3):
        assert _issue(client, password="wrong").status_code == 401

    response = _issue(client)  # even the right password, once over the limit

    assert_problem(response, 429)
    assert response["Retry-After"] == str(settings.LOGIN_RATE_WINDOW)


def test_it_lists_your_tokens_without_the_secret(client, api, alice, bob):
    api.token(bob)
    token = _issue(client, name="phone").json()["token"]
    _issue(client, name="laptop")

    response = client.get(f"{BASE}/auth/tokens", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    listed = response.json()
    assert [t["name"] for t in listed] == ["laptop", "phone"]
    assert all("token" not in t for t in listed)
    assert token not in response.content.decode()


def test_a_revoked_token_no_longer_works(client, alice):
    issued = _issue(client).json()
    auth = {"Authorization": f"Bearer {issued['token']}"}

    response = client.delete(f"{BASE}/auth/tokens/{issued['id']}", headers=auth)

    assert response.status_code == 204
    assert not ApiToken.objects.exists()
    again = client.get(f"{BASE}/auth/me", headers=auth)
    body = assert_problem(again, 401)
    assert "revoked" in body["detail"]
    assert again["WWW-Authenticate"] == 'Bearer realm="caredesk"'


def test_nobody_revokes_another_users_token(client, api, alice, bob):
    bobs = ApiToken.objects.get(prefix=api.token(bob)[:11])

    response = api.delete(f"/auth/tokens/{bobs.pk}", as_=alice)

    assert_problem(response, 404)
    assert ApiToken.objects.filter(pk=bobs.pk).exists()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cd_notatoken",
        "Bearer cd_abcdefgh_" + "x" * 32,  # well-formed, unknown
        "Bearer ",
    ],
)
def test_a_bad_bearer_token_is_a_401_problem(client, alice, header):
    response = client.get(f"{BASE}/tickets", headers={"Authorization": header})

    assert_problem(response, 401)


def test_a_tampered_token_with_a_real_prefix_is_refused(client, api, alice):
    token = api.token(alice)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    response = client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {tampered}"})

    assert_problem(response, 401)


def test_a_deactivated_users_token_stops_working(api, alice):
    token = api.token(alice)
    alice.is_active = False
    alice.save()

    response = api.client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert_problem(response, 401)


def test_anonymous_requests_are_401_problems(api, db):
    for method, path in [
        ("get", "/tickets"),
        ("get", "/auth/me"),
        ("get", "/auth/tokens"),
        ("get", "/queues/unclaimed"),
        ("get", "/attachments/1"),
    ]:
        assert_problem(getattr(api, method)(path, as_=None), 401)
    assert_problem(api.post("/tickets", {"subject": "x"}, as_=None), 401)
    assert_problem(api.post("/tickets/1/claim", as_=None), 401)


def test_last_used_is_written_at_most_once_a_minute(api, alice):
    token = api.token(alice)
    row = ApiToken.objects.get(prefix=token[:11])

    api.get("/auth/me", as_=alice)
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None

    api.get("/auth/me", as_=alice)
    row.refresh_from_db()
    assert row.last_used_at == first  # within the minute: not written again

    an_hour_ago = timezone.now() - timedelta(hours=1)
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=an_hour_ago)
    api.get("/auth/me", as_=alice)
    row.refresh_from_db()
    assert row.last_used_at > an_hour_ago


def test_issuing_a_token_again_with_the_same_key_returns_the_same_token(client, alice):
    headers = {"Idempotency-Key": "4a1c9f4e-issue-1"}

    first = _issue(client, name="phone", headers=headers)
    second = _issue(client, name="phone", headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert ApiToken.objects.count() == 1
    token = first.json()["token"]
    me = client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert token not in _all_database_text()


def test_a_token_replay_still_needs_the_password(client, alice):
    headers = {"Idempotency-Key": "issue-2"}
    assert _issue(client, headers=headers).status_code == 201

    response = _issue(client, password="wrong", headers=headers)

    assert_problem(response, 401)
