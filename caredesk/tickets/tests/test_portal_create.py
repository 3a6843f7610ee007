"""Opening a ticket from the portal's guided form."""

import hashlib

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from caredesk.conftest import PNG_BYTES, png_upload
from caredesk.tickets.choices import Channel, EventKind, Status
from caredesk.tickets.models import Attachment, Message, Ticket


def _form(**overrides):
    data = {
        "subject": "Cannot add a volunteer",
        "trying_to_do": "Add Jo to the Tuesday team",
        "expected": "Jo appears in the team list",
        "actual": "Error page: Something went wrong (Request ID 7f3a)",
        "references": "jo@example.org, req-7f3a",
    }
    data.update(overrides)
    return data


def test_it_shows_the_guided_questions_and_the_size_limit(client, alice, settings):
    settings.ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    client.force_login(alice)

    response = client.get(reverse("portal:new"))

    html = response.content.decode()
    assert response.status_code == 200
    for question in (
        "What were you trying to do?",
        "What did you expect to happen?",
        "What actually happened?",
        "References",
        "Email addresses, Request IDs, links.",
    ):
        assert question in html
    assert 'type="file"' in html and "multiple" in html
    assert 'enctype="multipart/form-data"' in html
    assert "up to 5.0\xa0MB each" in html
    # Every input has a label.
    for name in ("subject", "trying_to_do", "expected", "actual", "references", "attachments"):
        assert f'for="id_{name}"' in html and f'id="id_{name}"' in html


def test_it_creates_a_ticket_with_a_screenshot(client, alice):
    client.force_login(alice)

    response = client.post(reverse("portal:new"), {**_form(), "attachments": [png_upload()]})

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:ticket", args=[ticket.number])
    assert mail.outbox == []  # any acknowledgement goes through the outbox, not the request
    assert ticket.requester == alice
    assert ticket.organization == alice.organization
    assert ticket.channel == Channel.PORTAL
    assert ticket.status == Status.NEW
    assert ticket.subject == "Cannot add a volunteer"
    assert ticket.trying_to_do == "Add Jo to the Tuesday team"
    assert ticket.expected == "Jo appears in the team list"
    assert ticket.actual == "Error page: Something went wrong (Request ID 7f3a)"
    assert ticket.references == "jo@example.org, req-7f3a"
    assert ticket.events.filter(kind=EventKind.CREATED).count() == 1

    attachment = Attachment.objects.get()
    assert attachment.ticket == ticket
    assert attachment.message == ticket.messages.get()
    assert attachment.filename == "screenshot.png"
    assert attachment.content_type == "image/png"
    assert attachment.sha256 == hashlib.sha256(PNG_BYTES).hexdigest()
    with attachment.file.open("rb") as stored:
        assert stored.read() == PNG_BYTES

    page = client.get(response["Location"])
    html = page.content.decode()
    assert f"your ticket is #{ticket.number}" in html
    assert "within one business day" in html
    assert "screenshot.png" in html
    assert reverse("attachment", args=[attachment.pk]) in html


def test_it_accepts_several_files_of_any_kind(client, alice):
    client.force_login(alice)
    log = SimpleUploadedFile("console.log", b"TypeError: x is undefined", "text/plain")

    client.post(reverse("portal:new"), {**_form(), "attachments": [png_upload("a.png"), log]})

    assert sorted(Attachment.objects.values_list("filename", flat=True)) == ["a.png", "console.log"]


def test_it_refuses_an_oversized_upload_and_stores_nothing(client, alice, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(alice)

    response = client.post(reverse("portal:new"), {**_form(), "attachments": [png_upload()]})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "“screenshot.png”" in html and "at most 10\xa0bytes" in html
    # What was typed is still there, to fix and send again.
    assert "Add Jo to the Tuesday team" in html
    assert not Ticket.objects.exists()
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()


def test_it_refuses_too_many_files(client, alice, settings):
    settings.ATTACHMENTS_PER_MESSAGE = 1
    client.force_login(alice)

    response = client.post(
        reverse("portal:new"),
        {**_form(), "attachments": [png_upload("a.png"), png_upload("b.png")]},
    )

    assert response.status_code == 400
    assert "At most 1 attachment per message." in response.content.decode()
    assert not Ticket.objects.exists()


def test_it_requires_a_subject_and_what_happened(client, alice):
    client.force_login(alice)

    response = client.post(reverse("portal:new"), _form(subject="  ", actual=""))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_subject_error"' in html and 'id="id_actual_error"' in html
    assert 'aria-invalid="true"' in html
    assert not Ticket.objects.exists()


def test_an_empty_post_shows_the_errors(client, alice):
    client.force_login(alice)

    response = client.post(reverse("portal:new"), {})

    assert response.status_code == 400
    assert 'id="id_subject_error"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_it_keeps_optional_questions_optional(client, alice):
    client.force_login(alice)

    response = client.post(reverse("portal:new"), _form(expected="", references=""))

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.expected == "" and ticket.references == ""
    assert Attachment.objects.count() == 0


def test_it_refuses_a_post_without_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("portal:new"), _form())

    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_it_accepts_a_post_with_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("portal:new"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    response = client.post(reverse("portal:new"), {**_form(), "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Ticket.objects.count() == 1
