"""Downloading attachments with a token: the same check as the web link."""

from __future__ import annotations

from caredesk.conftest import PNG_BYTES, png_upload
from caredesk.tickets import lifecycle

from .conftest import assert_problem


def _download(api, attachment_id, as_):
    return api.get(f"/attachments/{attachment_id}", as_=as_)


def test_the_requester_downloads_their_screenshot(api, alice, make_ticket):
    ticket = make_ticket(alice, with_screenshot=True)
    attachment = ticket.attachments.get()

    response = _download(api, attachment.pk, alice)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG_BYTES
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="screenshot.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_the_url_in_the_ticket_downloads_it(api, alice, make_ticket):
    ticket = make_ticket(alice, with_screenshot=True)
    body = api.get(f"/tickets/{ticket.number}", as_=alice).json()
    url = body["messages"][0]["attachments"][0]["url"]

    response = api.client.get(url, headers=api.headers(alice))

    assert response.status_code == 200


def test_nobody_else_downloads_it(api, make_ticket, alice, bob, eve, dev, carol):
    attachment = make_ticket(alice, with_screenshot=True).attachments.get()

    for other in (bob, eve, dev, carol):
        assert_problem(_download(api, attachment.pk, other), 404)
    assert_problem(_download(api, attachment.pk + 1000, alice), 404)


def test_agents_download_any_attachment(api, agent, make_ticket, alice):
    attachment = make_ticket(alice, with_screenshot=True).attachments.get()

    assert _download(api, attachment.pk, agent).status_code == 200


def test_a_notes_attachment_stays_with_the_agents(api, alice, agent, ticket):
    note = lifecycle.agent_reply(
        ticket, agent, "Log from staging", internal=True, uploads=[png_upload("log.png")]
    )
    attachment = note.attachments.get()

    assert_problem(_download(api, attachment.pk, alice), 404)
    assert _download(api, attachment.pk, agent).status_code == 200
