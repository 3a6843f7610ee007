"""Idempotency-Key: a retry gets the first answer and creates nothing."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test import Client
from django.utils import timezone

from caredesk.api import idempotency
from caredesk.api.models import IdempotencyRecord, RateCounter
from caredesk.api.tests.conftest import BASE, assert_problem, issue_token, ticket_payload
from caredesk.conftest import png_upload
from caredesk.tickets.models import Attachment, Event, Message, Ticket

REUSED = "urn:caredesk:problem:idempotency-key-reused"


def _key(value: str) -> dict:
    return {"Idempotency-Key": value}


def test_the_same_key_twice_creates_one_ticket_and_answers_the_same(api, alice):
    first = api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-1"))
    second = api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-1"))

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    assert IdempotencyRecord.objects.get().key_hash != "k-1"  # only its hash is kept


def test_the_same_key_with_a_different_body_is_refused(api, alice):
    api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-2"))

    response = api.post(
        "/tickets", ticket_payload(subject="Another problem"), as_=alice, headers=_key("k-2")
    )

    body = assert_problem(response, 422, REUSED)
    assert "different request" in body["detail"]
    assert Ticket.objects.count() == 1


def test_the_same_key_on_another_path_is_refused(api, alice, ticket):
    api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-3"))

    response = api.post(
        f"/tickets/{ticket.number}/messages", {"body": "Hello"}, as_=alice, headers=_key("k-3")
    )

    assert_problem(response, 422, REUSED)


def test_keys_of_different_users_are_independent(api, alice, bob):
    mine = api.post("/tickets", ticket_payload(), as_=alice, headers=_key("shared"))
    theirs = api.post("/tickets", ticket_payload(), as_=bob, headers=_key("shared"))

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["number"] != theirs.json()["number"]
    assert "Idempotent-Replayed" not in theirs
    assert Ticket.objects.count() == 2


def test_without_a_key_every_request_creates(api, alice):
    api.post("/tickets", ticket_payload(), as_=alice)
    api.post("/tickets", ticket_payload(), as_=alice)

    assert Ticket.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_multipart_retry_is_recognised_by_its_files(api, alice):
    def send(upload):
        return api.post_form(
            "/tickets",
            {**ticket_payload(), "attachments": [upload]},
            as_=alice,
            headers=_key("k-files"),
        )

    first = send(png_upload())
    again = send(png_upload())  # a new multipart body (new boundary), the same content
    other = send(SimpleUploadedFile("screenshot.png", b"other bytes", content_type="image/png"))

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert_problem(other, 422, REUSED)
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1


def test_replies_are_idempotent_too(api, alice, ticket):
    path = f"/tickets/{ticket.number}/messages"

    first = api.post(path, {"body": "It happens again"}, as_=alice, headers=_key("reply-1"))
    second = api.post(path, {"body": "It happens again"}, as_=alice, headers=_key("reply-1"))

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert ticket.messages.count() == 2


def test_a_refused_request_stores_nothing_and_may_be_retried(api, alice, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    path = f"/tickets/{ticket.number}/messages"
    data = {"body": "Screenshot attached", "attachments": [png_upload()]}

    assert_problem(api.post_form(path, data, as_=alice, headers=_key("k-refused")), 413)
    assert not IdempotencyRecord.objects.exists()

    settings.ATTACHMENT_MAX_BYTES = 10_000
    data["attachments"] = [png_upload()]
    retried = api.post_form(path, data, as_=alice, headers=_key("k-refused"))
    assert retried.status_code == 201


def test_an_expired_key_may_be_used_again(api, alice, settings):
    api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-old"))
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL + 1)
    )

    response = api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-old"))

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Ticket.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_housekeeping_deletes_expired_records_and_past_counts_only(api, alice, settings):
    api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-a"))
    api.post("/tickets", ticket_payload(), as_=alice, headers=_key("k-b"))
    IdempotencyRecord.objects.filter(pk=IdempotencyRecord.objects.first().pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    now = int(time.time() // settings.API_RATE_WINDOW)
    RateCounter.objects.create(name="ip:192.0.2.1", bucket=now - 5, hits=3)
    RateCounter.objects.create(name="ip:192.0.2.2", bucket=now, hits=3)

    call_command("housekeeping", stdout=io.StringIO())

    assert IdempotencyRecord.objects.count() == 1
    assert list(RateCounter.objects.values_list("name", flat=True)) == ["ip:192.0.2.2"]


def test_an_invalid_key_is_a_validation_problem(api, alice):
    response = api.post("/tickets", ticket_payload(), as_=alice, headers=_key("x" * 300))

    body = assert_problem(response, 422, "urn:caredesk:problem:validation")
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]


@pytest.mark.postgres_only  # SQLite's in-memory test database locks whole tables
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_ticket(alice):
    """Several clients send the same request with the same key at the same moment (each
    thread has its own database connection): one creates, the others wait on the unique
    index and replay its answer."""
    token = issue_token(alice)
    clients = 4
    barrier = threading.Barrier(clients)
    answers: list = [None] * clients

    def send(index: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            answers[index] = client.post(
                f"{BASE}/tickets",
                ticket_payload(),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"},
            )
        except Exception as exc:
            answers[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()

    assert all(getattr(a, "status_code", None) == 201 for a in answers), answers
    assert len({a.content for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a for a in answers) == 1
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1


def test_a_retried_upload_keeps_one_file(api, alice, settings):
    # The retry does the creation again, is rolled back on the key, and must not leave
    # its copy of the screenshot behind.
    payload = {**ticket_payload(), "attachments": [png_upload()]}
    first = api.post_form("/tickets", payload, as_=alice, headers=_key("up-1"))
    payload = {**ticket_payload(), "attachments": [png_upload()]}
    again = api.post_form("/tickets", payload, as_=alice, headers=_key("up-1"))

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    stored = Attachment.objects.get()
    files = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert files == [Path(settings.MEDIA_ROOT) / stored.file.name]


def test_a_retry_of_an_answered_request_does_not_create_again(rf, alice):
    calls: list[int] = []

    def create() -> dict:
        calls.append(1)
        return {"created": len(calls)}

    def send():
        return idempotency.respond(
            rf.post("/"), user=alice, key="once", fingerprint="f", status=201, create=create
        )

    first, again = send(), send()
    assert calls == [1]  # the retry read the record instead of doing the work again
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)  # the foreign keys are checked at commit
def test_an_error_at_commit_is_the_creations_own_not_a_taken_key(rf, alice):
    def create() -> dict:
        Event.objects.create(ticket_id=987654, kind="created")  # no such ticket
        return {}

    with pytest.raises(IntegrityError):
        idempotency.respond(
            rf.post("/"), user=alice, key="k-fk", fingerprint="f", status=201, create=create
        )
    assert not IdempotencyRecord.objects.exists()


def test_a_retried_large_upload_is_copied_not_moved(alice, settings):
    # A large upload is a temporary file; a transaction rolled back runs again with it.
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from django.db import transaction

    from caredesk.tickets import lifecycle

    upload = TemporaryUploadedFile("big.bin", "application/octet-stream", 5, None)
    upload.write(b"12345")
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.create_ticket(requester=alice, subject="s", channel="api", uploads=[upload])
        raise RuntimeError("rolled back")
    ticket = lifecycle.create_ticket(requester=alice, subject="s", channel="api", uploads=[upload])
    assert ticket.opening_message.stored_attachments[0].file.read() == b"12345"
