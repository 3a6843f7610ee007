"""Downloading an attachment: always a download, and only for people who may see it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from caredesk.conftest import PNG_BYTES, png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel
from caredesk.tickets.models import Attachment


@pytest.fixture
def screenshot(alice, make_ticket) -> Attachment:
    ticket = make_ticket(alice, with_screenshot=True)
    return Attachment.objects.get(ticket=ticket)


@pytest.fixture
def note_attachment(ticket, agent) -> Attachment:
    note = lifecycle.agent_reply(
        ticket, agent, "Server log, do not share", internal=True, uploads=[png_upload("log.png")]
    )
    return note.attachments.get()


def _url(attachment_id: int) -> str:
    return reverse("attachment", args=[attachment_id])


def _assert_download(response, filename: str, content: bytes) -> None:
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["Content-Type"] == "application/octet-stream"  # never rendered inline
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == content


@pytest.mark.parametrize("who", ["alice", "agent"])
def test_it_downloads_for_the_requester_and_an_agent(client, request, screenshot, who):
    client.force_login(request.getfixturevalue(who))
    _assert_download(client.get(_url(screenshot.pk)), "screenshot.png", PNG_BYTES)


def test_it_downloads_for_a_colleague_when_the_organization_shares(client, carol, acme, screenshot):
    client.force_login(carol)
    assert client.get(_url(screenshot.pk)).status_code == 404

    acme.shared_tickets = True
    acme.save()
    _assert_download(client.get(_url(screenshot.pk)), "screenshot.png", PNG_BYTES)


@pytest.mark.parametrize("who", ["bob", "eve", "carol"])
def test_it_answers_404_to_people_who_may_not_see_the_ticket(client, request, screenshot, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(_url(screenshot.pk)).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, screenshot):
    response = client.get(_url(screenshot.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_an_internal_note_attachment_is_hidden_from_the_requester(client, alice, note_attachment):
    client.force_login(alice)
    assert client.get(_url(note_attachment.pk)).status_code == 404


def test_an_internal_note_attachment_downloads_for_an_agent(client, agent2, note_attachment):
    client.force_login(agent2)
    _assert_download(client.get(_url(note_attachment.pk)), "log.png", PNG_BYTES)


def test_it_answers_404_for_an_attachment_that_does_not_exist(client, alice, agent):
    client.force_login(agent)
    assert client.get(_url(424242)).status_code == 404


def test_an_html_file_is_still_a_download(client, alice):
    evil = SimpleUploadedFile("page.html", b"<script>alert(1)</script>", content_type="text/html")
    ticket = lifecycle.create_ticket(
        requester=alice, subject="See attached", channel=Channel.PORTAL, uploads=[evil]
    )
    attachment = ticket.attachments.get()
    client.force_login(alice)

    _assert_download(client.get(_url(attachment.pk)), "page.html", b"<script>alert(1)</script>")
