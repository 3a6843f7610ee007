"""Resetting a forgotten password: the mail goes through the outbox, never from the request."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from caredesk.conftest import PASSWORD
from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.outbox.services import deliver_due

NEW_PASSWORD = "a much longer new secret 42"


def _ask_for_reset(client, email: str):
    return client.post(reverse("password_reset"), {"email": email})


def _reset_link(body: str) -> str:
    match = re.search(r"^(https?://\S+/reset/\S+/)$", body, re.MULTILINE)
    assert match, body
    return match.group(1)


def test_it_queues_one_email_and_sends_nothing_inside_the_request(client, alice):
    response = _ask_for_reset(client, alice.email)

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []
    email = OutboundEmail.objects.get()
    assert email.to == [alice.email]
    assert email.status == DeliveryStatus.PENDING
    assert email.ref == "password-reset"
    assert "\n" not in email.subject


def test_the_worker_sends_it_and_the_link_sets_a_new_password(client, alice):
    _ask_for_reset(client, alice.email)

    assert deliver_due() == 1

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [alice.email]
    assert sent.from_email == settings.DEFAULT_FROM_EMAIL
    # Named after the site, not after whatever Host header the request carried.
    assert sent.subject == f"Password reset on {settings.SITE_NAME}"
    assert f"your {settings.SITE_NAME} account ({alice.email})" in sent.body
    assert "testserver" not in sent.subject + sent.body
    link = _reset_link(sent.body)
    assert link.startswith(settings.SITE_URL + "/")
    assert OutboundEmail.objects.get().status == DeliveryStatus.SENT

    # The link hides its token behind a redirect, then shows the new-password form.
    form_page = client.get(urlsplit(link).path, follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]

    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("password_reset_complete")

    login = reverse("login")
    client.post(login, {"username": alice.email, "password": PASSWORD})
    assert SESSION_KEY not in client.session  # the old password no longer works
    response = client.post(login, {"username": alice.email, "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(alice.pk)

    # The link works once.
    client.logout()
    again = client.get(urlsplit(link).path, follow=True)
    assert "This link has expired" in again.content.decode()


def test_it_finds_the_account_whatever_the_case_of_the_email(client, alice):
    _ask_for_reset(client, "ALICE@Acme.Test")
    assert OutboundEmail.objects.get().to == [alice.email]


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, alice):
    known = _ask_for_reset(client, alice.email)
    OutboundEmail.objects.all().delete()

    unknown = _ask_for_reset(client, "nobody@acme.test")

    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"]
    assert not OutboundEmail.objects.exists()
    page = client.get(unknown["Location"]).content.decode()
    assert "If an account exists for that address" in page
    assert deliver_due() == 0
    assert mail.outbox == []


def test_a_deactivated_account_gets_no_mail(client, alice):
    alice.is_active = False
    alice.save()

    _ask_for_reset(client, alice.email)

    assert not OutboundEmail.objects.exists()


def test_a_mismatched_new_password_is_refused(client, alice):
    _ask_for_reset(client, alice.email)
    deliver_due()
    form_page = client.get(urlsplit(_reset_link(mail.outbox[0].body)).path, follow=True)

    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"},
    )

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_requester_who_only_wrote_by_email_can_set_a_first_password(client, db):
    """Email and widget requesters have no usable password; the reset link gives them one."""
    from caredesk.accounts.models import User

    User.objects.create_user("mailer@acme.test", None)
    client.post("/accounts/password-reset/", {"email": "mailer@acme.test"})
    assert OutboundEmail.objects.filter(to=["mailer@acme.test"]).count() == 1


def test_reset_requests_are_limited_per_address(client, alice, bob, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = 2
    for email in (alice.email, alice.email.upper()):
        assert _ask_for_reset(client, email).status_code == 302
    response = _ask_for_reset(client, alice.email)
    assert response.status_code == 200
    assert "Too many reset requests" in response.content.decode()
    assert OutboundEmail.objects.filter(to=[alice.email]).count() == 2
    # Someone else's address is counted apart, and an unknown one alike (no account is
    # revealed by being limited or not).
    assert _ask_for_reset(client, bob.email).status_code == 302
    assert OutboundEmail.objects.filter(to=[bob.email]).count() == 1


def test_reset_requests_are_limited_per_client_address(client, db, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = 1  # five per client address
    answers = [_ask_for_reset(client, f"nobody{i}@acme.test").status_code for i in range(6)]
    assert answers == [302] * 5 + [200]
