"""Signing in: email + password, a rate limit against guessing, strict security headers."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from caredesk.conftest import PASSWORD

RATE_LIMITED = "Too many sign-in attempts"
WRONG = "That email address and password do not match"


@pytest.fixture
def login_url() -> str:
    return reverse("login")


def _sign_in(client, login_url, email, password, **extra):
    return client.post(login_url, {"username": email, "password": password, **extra})


def _signed_in_as(client, user) -> bool:
    return client.session.get(SESSION_KEY) == str(user.pk)


def test_it_signs_in_with_email_and_password(client, alice, login_url):
    response = _sign_in(client, login_url, "alice@acme.test", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert _signed_in_as(client, alice)


def test_it_ignores_the_case_of_the_email(client, alice, login_url):
    response = _sign_in(client, login_url, "  Alice@ACME.test ", PASSWORD)

    assert response.status_code == 302
    assert _signed_in_as(client, alice)


def test_it_follows_next_to_a_page_on_this_site(client, alice, login_url):
    response = _sign_in(client, login_url, alice.email, PASSWORD, next=reverse("portal:new"))
    assert response["Location"] == reverse("portal:new")


def test_it_does_not_follow_next_to_another_site(client, alice, login_url):
    response = _sign_in(client, login_url, alice.email, PASSWORD, next="https://evil.test/")
    assert response["Location"] == reverse("home")


def test_it_refuses_a_wrong_password(client, alice, login_url):
    response = _sign_in(client, login_url, alice.email, "not the password")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert WRONG in html
    assert 'value="alice@acme.test"' in html  # the email stays filled in
    assert SESSION_KEY not in client.session


def test_it_refuses_an_unknown_email_with_the_same_message(client, db, login_url):
    response = _sign_in(client, login_url, "nobody@acme.test", PASSWORD)
    assert WRONG in response.content.decode()


def test_it_says_which_field_is_missing(client, alice, login_url):
    response = _sign_in(client, login_url, alice.email, "")

    html = response.content.decode()
    assert 'id="id_password_error"' in html and "This field is required." in html
    assert 'aria-invalid="true"' in html
    assert SESSION_KEY not in client.session


def test_it_refuses_a_deactivated_account(client, alice, login_url):
    alice.is_active = False
    alice.save()

    response = _sign_in(client, login_url, alice.email, PASSWORD)

    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_it_refuses_even_the_right_password_after_too_many_failures(
    client, alice, login_url, settings
):
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(settings.LOGIN_RATE_LIMIT):
        response = _sign_in(client, login_url, alice.email, "guess")
        assert RATE_LIMITED not in response.content.decode()

    response = _sign_in(client, login_url, alice.email, PASSWORD)

    assert response.status_code == 200
    assert RATE_LIMITED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_limit_counts_an_email_in_any_case(client, alice, login_url, settings):
    settings.LOGIN_RATE_LIMIT = 3
    for email in ("ALICE@acme.test", "alice@ACME.TEST", "Alice@Acme.Test"):
        _sign_in(client, login_url, email, "guess")

    response = _sign_in(client, login_url, "alice@acme.test", PASSWORD)

    assert RATE_LIMITED in response.content.decode()


def test_the_limit_counts_look_alike_spellings_of_an_email(client, alice, login_url, settings):
    """Full-width letters sign in as the plain ones (Django normalizes with NFKC), so they
    count against the same account."""
    settings.LOGIN_RATE_LIMIT = 3
    for email in ("\uff41lice@acme.test", "alice@\uff41cme.test", "ALICE@ACME.TEST"):
        _sign_in(client, login_url, email, "guess")

    response = _sign_in(client, login_url, "\uff41lice@acme.test", PASSWORD)

    assert RATE_LIMITED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_limit_on_one_email_does_not_lock_out_another(client, alice, bob, login_url, settings):
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(settings.LOGIN_RATE_LIMIT + 1):
        _sign_in(client, login_url, alice.email, "guess")

    response = _sign_in(client, login_url, bob.email, PASSWORD)

    assert response.status_code == 302
    assert _signed_in_as(client, bob)


def test_a_successful_sign_in_resets_the_count(client, alice, login_url, settings):
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(2):
        _sign_in(client, login_url, alice.email, "guess")
    assert _sign_in(client, login_url, alice.email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _sign_in(client, login_url, alice.email, "guess")

    assert _sign_in(client, login_url, alice.email, PASSWORD).status_code == 302


def test_an_empty_password_does_not_reset_the_count(client, alice, login_url, settings):
    """Otherwise an attacker could interleave empty submissions to guess without limit."""
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(settings.LOGIN_RATE_LIMIT):
        _sign_in(client, login_url, alice.email, "guess")
        _sign_in(client, login_url, alice.email, "")

    response = _sign_in(client, login_url, alice.email, PASSWORD)

    assert RATE_LIMITED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_login_page_has_a_strict_csp_with_a_nonce(client, db, login_url):
    response = client.get(login_url)

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce, csp
    assert "script-src 'self' 'nonce-" in csp
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    # The scripts on the page carry the same nonce.
    assert f'nonce="{nonce.group(1)}"' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_signed_in_person_is_sent_on(client, alice, login_url):
    client.force_login(alice)
    response = client.get(login_url)
    assert response.status_code == 302
