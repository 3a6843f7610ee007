"""POST /widget/form/: a ticket from the widget, or a clear refusal that stores nothing."""

import time

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile

from caredesk.accounts.choices import Role
from caredesk.accounts.models import User
from caredesk.conftest import png_upload
from caredesk.tickets.choices import Channel, Status
from caredesk.tickets.models import Attachment, Ticket
from caredesk.widget.tokens import FORM_SALT, sign_user_token

from .conftest import HOST, form_token_from

URL = "/widget/form/"


def _nothing_stored(users_before: int) -> bool:
    return not Ticket.objects.exists() and User.objects.count() == users_before


@pytest.mark.django_db
def test_it_creates_a_ticket_for_an_anonymous_requester(client, form_data):
    response = client.post(
        URL,
        {**form_data(), "screenshots": [png_upload("a.png")]},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/140",
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.WIDGET
    assert ticket.status == Status.NEW
    assert ticket.subject == "Volunteer list is empty"
    assert ticket.trying_to_do == "Add a volunteer to my agency"
    assert ticket.references == "req-7f3a"
    assert ticket.requester.email == "newcomer@example.org"
    assert ticket.requester.name == "Nia Newcomer"
    assert ticket.requester.role == Role.REQUESTER
    assert not ticket.requester.has_usable_password()  # "forgot password" lets them in
    assert ticket.client_context == {
        "page_url": f"{HOST}/agencies/42/volunteers?tab=new",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140",
        "referrer_origin": HOST,
        "identity": "email (unverified)",
    }
    attachment = Attachment.objects.get()
    assert attachment.ticket == ticket and attachment.content_type == "image/png"
    html = response.content.decode()
    assert f"Ticket #{ticket.pk} received" in html
    assert "within one business day" in html
    assert "newcomer@example.org" in html
    assert f"/portal/tickets/{ticket.pk}/" in html
    assert "Forgot password" in html
    assert "X-Frame-Options" not in response
    assert "frame-ancestors 'self' https://app.example.org" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_an_existing_requester_gets_the_ticket_and_sees_it_in_the_portal(client, alice, form_data):
    response = client.post(URL, form_data(email="ALICE@acme.test", name="Someone Else"))

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.requester == alice
    alice.refresh_from_db()
    assert alice.name == "Alice"  # an anonymous form never renames anybody
    assert "Forgot password" not in response.content.decode()

    from django.test import Client

    portal = Client()
    portal.force_login(alice)
    assert "Volunteer list is empty" in portal.get("/portal/").content.decode()


@pytest.mark.django_db
def test_it_works_from_the_form_page_as_served(client, form_data):
    page = client.get(URL, HTTP_REFERER=f"{HOST}/dashboard")
    token = form_token_from(page.content.decode())

    response = client.post(URL, form_data(form_token=token))

    assert response.status_code == 200
    assert Ticket.objects.get().client_context["referrer_origin"] == HOST


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        signing.dumps({"o": HOST}, salt="another.salt"),
        signing.dumps({"o": HOST}, salt=FORM_SALT) + "x",
    ],
    ids=["missing", "garbage", "wrong-salt", "tampered"],
)
def test_it_refuses_a_post_without_a_genuine_form_token(client, form_data, token):
    users = User.objects.count()

    response = client.post(URL, form_data(form_token=token))

    assert response.status_code == 403
    assert "could not accept this form" in response.content.decode()
    assert _nothing_stored(users)


class _Backdated(signing.TimestampSigner):
    """Signs as if just longer ago than a form may stay open: genuine, but expired."""

    def timestamp(self):
        from django.conf import settings

        return signing.b62_encode(int(time.time()) - settings.CAREDESK_WIDGET_FORM_MAX_AGE - 60)


@pytest.mark.django_db
def test_it_refuses_an_expired_form_token_but_keeps_what_was_typed(client, form_data):
    expired = _Backdated(salt=FORM_SALT).sign_object({"o": HOST})
    users = User.objects.count()

    response = client.post(URL, form_data(form_token=expired))

    assert response.status_code == 400
    html = response.content.decode()
    assert "open for a long time" in html
    assert 'value="Volunteer list is empty"' in html  # what they typed is still there
    assert form_token_from(html) != expired  # with a fresh token to send it again
    assert _nothing_stored(users)


@pytest.mark.django_db
def test_a_filled_honeypot_pretends_success_and_stores_nothing(client, form_data):
    users = User.objects.count()

    response = client.post(
        URL, {**form_data(leave_empty="http://spam.example"), "screenshots": [png_upload()]}
    )

    assert response.status_code == 200
    assert "Request received" in response.content.decode()
    assert _nothing_stored(users)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_an_anonymous_submission_needs_an_email(client, form_data):
    users = User.objects.count()

    response = client.post(URL, form_data(email=""))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Please give your email address" in html
    assert 'role="alert"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_email_helptext id_email_error"' in html
    assert _nothing_stored(users)


@pytest.mark.django_db
def test_a_signed_user_token_names_the_requester_and_no_email_is_asked(client, form_data, acme):
    token = sign_user_token("Dana@Acme.test", "Dana Platform", org="acme network")

    response = client.post(URL, form_data(user_token=token, email="", name=""))

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    dana = ticket.requester
    assert (dana.email, dana.name, dana.organization) == ("dana@acme.test", "Dana Platform", acme)
    assert dana.role == Role.REQUESTER
    assert ticket.organization == acme
    assert ticket.client_context["identity"] == "signed token"
    assert "dana@acme.test" in response.content.decode()


@pytest.mark.django_db
def test_a_signed_token_wins_over_a_typed_email(client, form_data, alice):
    token = sign_user_token("alice@acme.test", "Alice")

    client.post(URL, form_data(user_token=token, email="someone@else.test"))

    assert Ticket.objects.get().requester == alice
    assert not User.objects.filter(email="someone@else.test").exists()


@pytest.mark.django_db
def test_a_signed_token_on_a_form_with_errors_keeps_the_email_hidden(client, form_data):
    token = sign_user_token("dana@acme.test", "Dana")

    response = client.post(URL, form_data(user_token=token, email="", subject=""))

    assert response.status_code == 400
    html = response.content.decode()
    assert '<fieldset class="contact" id="cd-contact" hidden disabled>' in html
    assert "Sending as <strong" in html and "Dana (dana@acme.test)" in html
    assert f'name="user_token" id="cd-user-token" value="{token}"' in html


def _tampered(token: str) -> str:
    mac = token.split(".")[1]
    forged = sign_user_token("boss@acme.test", "Boss", secret="not-the-secret").split(".")[0]
    return f"{forged}.{mac}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_token",
    [
        lambda: _tampered(sign_user_token("alice@acme.test")),
        lambda: sign_user_token("alice@acme.test", secret="another-secret-of-another-site"),
        lambda: sign_user_token("alice@acme.test", ttl=-5),
        lambda: sign_user_token("alice@acme.test", ttl=400 * 24 * 3600),
    ],
    ids=["tampered", "other-secret", "expired", "too-long-lived"],
)
def test_a_bad_user_token_counts_as_anonymous(client, form_data, alice, make_token):
    users = User.objects.count()

    refused = client.post(URL, form_data(user_token=make_token(), email=""))

    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Please give your email address" in html
    assert "We could not confirm who is signed in" in html
    assert 'name="user_token" id="cd-user-token" value=""' in html  # not sent again
    assert _nothing_stored(users)

    sent = client.post(URL, form_data(user_token=make_token(), email="guest@example.org"))

    assert sent.status_code == 200
    assert Ticket.objects.get().requester.email == "guest@example.org"


@pytest.mark.django_db
def test_anonymous_submissions_are_rate_limited_per_email(client, form_data, settings):
    settings.CAREDESK_WIDGET_RATE_LIMIT_EMAIL = 2
    for _ in range(2):
        assert client.post(URL, form_data()).status_code == 200

    response = client.post(URL, form_data(email="NEWCOMER@example.org"))

    assert response.status_code == 429
    assert "several requests in a short time" in response.content.decode()
    assert "try again within 1\xa0hour, or write to us at support@" in response.content.decode()
    assert Ticket.objects.count() == 2
    # Someone else on another address is not affected.
    assert client.post(URL, form_data(email="other@example.org")).status_code == 200


@pytest.mark.django_db
def test_anonymous_submissions_are_rate_limited_per_client_address(client, form_data, settings):
    settings.CAREDESK_WIDGET_RATE_LIMIT_IP = 3
    for n in range(3):
        assert client.post(URL, form_data(email=f"p{n}@example.org")).status_code == 200

    response = client.post(URL, form_data(email="p9@example.org"))

    assert response.status_code == 429
    assert Ticket.objects.count() == 3
    assert not User.objects.filter(email="p9@example.org").exists()
    other_address = client.post(URL, form_data(email="p9@example.org"), REMOTE_ADDR="192.0.2.77")
    assert other_address.status_code == 200


@pytest.mark.django_db
def test_signed_in_users_are_not_held_by_the_anonymous_limit(client, form_data, settings):
    settings.CAREDESK_WIDGET_RATE_LIMIT_IP = 1
    client.post(URL, form_data())
    token = sign_user_token("dana@acme.test", "Dana")

    response = client.post(URL, form_data(user_token=token))

    assert response.status_code == 200
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_an_oversized_screenshot_is_refused_with_a_message(client, form_data, settings):
    settings.ATTACHMENT_MAX_BYTES = 50  # the 1x1 PNG has 71 bytes
    users = User.objects.count()

    response = client.post(URL, {**form_data(), "screenshots": [png_upload("big.png")]})

    assert response.status_code == 400
    html = response.content.decode()
    assert "“big.png” is 71\xa0bytes; attachments may be at most 50\xa0bytes." in html
    assert _nothing_stored(users)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_too_many_screenshots_are_refused(client, form_data, settings):
    settings.ATTACHMENTS_PER_MESSAGE = 1
    users = User.objects.count()

    response = client.post(URL, {**form_data(), "screenshots": [png_upload(), png_upload()]})

    assert response.status_code == 400
    assert "At most 1 attachment per message" in response.content.decode()
    assert _nothing_stored(users)


@pytest.mark.django_db
def test_a_file_that_is_not_an_image_is_refused(client, form_data):
    users = User.objects.count()
    svg = SimpleUploadedFile(
        "shot.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/png"
    )

    response = client.post(URL, {**form_data(), "screenshots": [svg]})

    assert response.status_code == 400
    assert "is not a PNG, JPEG, GIF or WebP image" in response.content.decode()
    assert _nothing_stored(users)


@pytest.mark.django_db
def test_context_from_the_host_page_is_validated(client, form_data):
    response = client.post(
        URL,
        form_data(page_url="javascript:alert(1)", host_origin="https://x.test/path", accent="red"),
    )

    assert response.status_code == 200
    assert Ticket.objects.get().client_context["page_url"] == ""
    html = response.content.decode()
    assert "data-parent-origin" not in html and "data-accent" not in html
