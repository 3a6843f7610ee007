"""Opening a ticket through the API: JSON or multipart, the channel, the limits."""

from __future__ import annotations

import hashlib

import pytest

from caredesk.conftest import PNG_BYTES, png_upload
from caredesk.tickets.choices import Channel, EventKind, Status
from caredesk.tickets.models import Attachment, Ticket

from .conftest import BASE, assert_problem, ticket_payload


def test_it_opens_a_ticket_from_json(api, alice):
    response = api.post("/tickets", ticket_payload(), as_=alice)

    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["number"] == ticket.number
    assert body["status"] == Status.NEW
    assert body["channel"] == Channel.API
    assert body["requester"] == {"id": alice.pk, "name": "Alice", "email": "alice@acme.test"}
    assert body["organization"]["name"] == "Acme Network"
    assert body["trying_to_do"] == "Add Jo to the Tuesday team"
    assert body["events"] is None and body["client_context"] is None  # agents only
    (first,) = body["messages"]
    assert "What actually happened:\nError page" in first["body"]
    assert ticket.requester == alice and ticket.channel == Channel.API
    assert ticket.events.get().kind == EventKind.CREATED


def test_the_mobile_app_is_recorded_with_its_version_and_device(api, alice):
    response = api.post(
        "/tickets",
        ticket_payload(),
        as_=alice,
        headers={
            "X-Caredesk-Client": "mobile/4.2.1 (iPhone15,2; iOS 18.1)",
            "User-Agent": "CaredeskMobile/4.2.1",
        },
    )

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.MOBILE
    assert ticket.client_context == {
        "app": "mobile",
        "version": "4.2.1",
        "device": "iPhone15,2; iOS 18.1",
        "user_agent": "CaredeskMobile/4.2.1",
    }
    assert ticket.messages.get().channel == Channel.MOBILE


def test_another_client_name_is_recorded_as_api(api, alice):
    api.post("/tickets", ticket_payload(), as_=alice, headers={"X-Caredesk-Client": "crm-sync/2.0"})

    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.API
    assert ticket.client_context["app"] == "crm-sync"


def test_a_malformed_client_header_is_a_validation_problem(api, alice):
    response = api.post(
        "/tickets", ticket_payload(), as_=alice, headers={"X-Caredesk-Client": "mobile"}
    )

    body = assert_problem(response, 422, "urn:caredesk:problem:validation")
    assert body["errors"][0]["loc"] == ["header", "X-Caredesk-Client"]
    assert not Ticket.objects.exists()


def test_it_opens_a_ticket_with_a_screenshot_from_multipart(api, alice):
    response = api.post_form(
        "/tickets", {**ticket_payload(), "attachments": [png_upload()]}, as_=alice
    )

    assert response.status_code == 201, response.content
    (message,) = response.json()["messages"]
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "screenshot.png"
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == len(PNG_BYTES)
    assert attachment["sha256"] == hashlib.sha256(PNG_BYTES).hexdigest()
    assert attachment["url"] == f"{BASE}/attachments/{attachment['id']}"
    stored = Attachment.objects.get()
    assert stored.file.read() == PNG_BYTES


def test_missing_and_invalid_fields_are_listed(api, alice):
    response = api.post("/tickets", {"subject": "   ", "expected": 3}, as_=alice)

    body = assert_problem(response, 422, "urn:caredesk:problem:validation")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert locs == {
        ("body", "subject"),
        ("body", "trying_to_do"),
        ("body", "actual"),
        ("body", "expected"),
    }
    assert not Ticket.objects.exists()


def test_text_with_a_nul_character_is_refused_not_a_server_error(api, alice):
    response = api.post("/tickets", ticket_payload(actual="bad\x00byte"), as_=alice)

    assert_problem(response, 422, "urn:caredesk:problem:validation")


def test_a_body_that_is_not_json_is_a_400(api, alice):
    response = api.client.post(
        f"{BASE}/tickets",
        b"{not json",
        content_type="application/json",
        headers=api.headers(alice),
    )

    body = assert_problem(response, 400)
    assert body["detail"] == "The body is not valid JSON."


def test_json_that_is_not_an_object_is_a_validation_problem(api, alice):
    response = api.post("/tickets", ["subject"], as_=alice)

    body = assert_problem(response, 422, "urn:caredesk:problem:validation")
    assert body["errors"][0]["loc"] == ["body"]


def test_a_broken_multipart_body_is_a_400(api, alice):
    response = api.client.post(
        f"{BASE}/tickets",
        b"--x\r\nContent-Disposition: form-data\r\n\r\nsubject",
        content_type="multipart/form-data",  # no boundary
        headers=api.headers(alice),
    )

    assert_problem(response, 400)
    assert not Ticket.objects.exists()


def _with_screenshot_named(filename: bytes, *more: bytes) -> bytes:
    """A ticket's form with a screenshot named ``filename``; ``more``: the parameters
    naming further screenshots ('filename="b.png"')."""
    parts = [
        (b'name="subject"', b"Screenshot attached"),
        (b'name="trying_to_do"', b"Export the volunteers"),
        (b'name="actual"', b"It fails"),
        (b'name="attachments"; filename="' + filename + b'"\r\nContent-Type: image/png', PNG_BYTES),
    ]
    for params in more:
        parts.append((b'name="attachments"; ' + params + b"\r\nContent-Type: image/png", PNG_BYTES))
    body = b"".join(
        b"--XyZ\r\nContent-Disposition: form-data; " + head + b"\r\n\r\n" + value + b"\r\n"
        for head, value in parts
    )
    return body + b"--XyZ--\r\n"


@pytest.mark.parametrize("filename", [b"capture d'\xe9cran.png", b".."])
def test_a_file_the_multipart_parser_drops_is_a_400_and_nothing_is_created(api, alice, filename):
    """Django's parser skips, without a word, a file part whose headers are not UTF-8
    (Latin-1 from an old client) or whose name is nothing once cleaned."""
    response = api.client.post(
        f"{BASE}/tickets",
        _with_screenshot_named(filename),
        content_type="multipart/form-data; boundary=XyZ",
        headers=api.headers(alice),
    )
    assert "1 of the 1 files sent could not be read" in assert_problem(response, 400)["detail"]
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_an_empty_file_input_is_no_file(api, alice):
    """What a browser sends for a file input left empty: Django leaves it out, rightly."""
    response = api.client.post(
        f"{BASE}/tickets",
        _with_screenshot_named(b""),
        content_type="multipart/form-data; boundary=XyZ",
        headers=api.headers(alice),
    )
    assert response.status_code == 201
    assert not Attachment.objects.exists()


def test_a_dropped_file_is_noticed_beside_one_named_in_pieces(api, alice):
    """RFC 2231 continuations name a file Django keeps: counted as one, so the Latin-1
    file Django drops beside it is still one missing."""
    body = _with_screenshot_named(b"caf\xe9.png", b'filename*0="capture "; filename*1="2.png"')
    response = api.client.post(
        f"{BASE}/tickets",
        body,
        content_type="multipart/form-data; boundary=XyZ",
        headers=api.headers(alice),
    )
    assert "1 of the 2 files sent" in assert_problem(response, 400)["detail"]
    assert not Ticket.objects.exists()


def test_a_file_named_in_utf8_arrives(api, alice):
    response = api.client.post(
        f"{BASE}/tickets",
        _with_screenshot_named("capture d'écran.png".encode()),
        content_type="multipart/form-data; boundary=XyZ",
        headers=api.headers(alice),
    )
    assert response.status_code == 201
    assert Attachment.objects.get().filename == "capture d'écran.png"


def test_another_media_type_is_a_415(api, alice):
    response = api.client.post(
        f"{BASE}/tickets", "subject=x", content_type="text/plain", headers=api.headers(alice)
    )

    assert_problem(response, 415)


def test_a_json_body_over_the_limit_is_a_413(api, alice, settings):
    settings.API_JSON_MAX_BYTES = 1000

    response = api.post("/tickets", ticket_payload(actual="x" * 2000), as_=alice)

    assert_problem(response, 413)
    assert not Ticket.objects.exists()


def test_an_attachment_over_the_limit_is_a_413_and_nothing_is_stored(api, alice, settings):
    settings.ATTACHMENT_MAX_BYTES = 10

    response = api.post_form(
        "/tickets", {**ticket_payload(), "attachments": [png_upload()]}, as_=alice
    )

    body = assert_problem(response, 413)
    assert "screenshot.png" in body["detail"] and "at most" in body["detail"]
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_too_many_attachments_is_a_413(api, alice, settings):
    settings.ATTACHMENTS_PER_MESSAGE = 1

    response = api.post_form(
        "/tickets",
        {**ticket_payload(), "attachments": [png_upload("a.png"), png_upload("b.png")]},
        as_=alice,
    )

    assert_problem(response, 413)
    assert not Ticket.objects.exists()


def test_agents_developers_and_outsiders_open_tickets_as_themselves(api, agent, dev, eve):
    for person in (agent, dev, eve):
        response = api.post("/tickets", ticket_payload(), as_=person)
        assert response.status_code == 201
        assert Ticket.objects.get(pk=response.json()["number"]).requester == person


def test_the_answer_is_what_reading_the_ticket_answers(api, alice):
    # The creation's answer is built without a second validation: it must be exactly
    # what the validated read of the same ticket gives, screenshot included.
    with_screenshot = {**ticket_payload(), "attachments": [png_upload()]}
    for created in (
        api.post("/tickets", ticket_payload(), as_=alice),
        api.post_form("/tickets", with_screenshot, as_=alice),
    ):
        assert created.status_code == 201, created.content
        number = created.json()["number"]
        read = api.get(f"/tickets/{number}", as_=alice)
        assert created.json() == read.json()
