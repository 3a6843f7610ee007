"""Webhooks out: queued with the ticket change, delivered by the worker to a real HTTP
server on loopback, signed per the Standard Webhooks specification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from caredesk.outbox.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from caredesk.outbox.services import deliver_due
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status


class Receiver:
    """A tiny webhook receiver answering with ``status``; records what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def endpoint(db, receiver) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url=receiver.url)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's side of the spec, written independently of the sender."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(sig.split(",", 1)[1], expected)
        for sig in headers["webhook-signature"].split()
    )


def test_ticket_events_are_signed_and_delivered(endpoint, receiver, alice, agent, make_ticket):
    ticket = make_ticket(alice)
    lifecycle.agent_reply(ticket, agent, "internal only", internal=True)
    lifecycle.agent_reply(ticket, agent, "Public answer", status=Status.PENDING)
    assert receiver.received == []  # nothing is sent from inside the change
    assert deliver_due() >= 4
    assert receiver.events() == [
        "ticket.created",
        "ticket.status_changed",  # the reply claimed it: new -> open
        "ticket.replied",
        "ticket.status_changed",  # open -> pending
    ]
    for headers, body in receiver.received:
        assert verify(endpoint.secret, headers, body)
        assert headers["webhook-id"].startswith("msg_")
    replied = json.loads(receiver.received[2][1])["data"]
    assert replied["ticket"]["number"] == ticket.pk
    assert replied["message"]["body"] == "Public answer"
    assert all(b"internal only" not in body for _, body in receiver.received)


def test_a_failing_receiver_is_retried_with_the_same_id(endpoint, receiver, alice, make_ticket):
    receiver.status = 503
    make_ticket(alice)
    deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1 and delivery.response_code == 503
    assert "HTTP 503" in delivery.last_error
    assert delivery.next_attempt_at > delivery.created_at
    receiver.status = 200
    WebhookDelivery.objects.update(next_attempt_at=delivery.created_at)
    deliver_due()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SENT
    first_id, second_id = (h["webhook-id"] for h, _ in receiver.received)
    assert first_id == second_id == delivery.msg_id


def test_410_gone_disables_the_endpoint(endpoint, receiver, alice, make_ticket):
    receiver.status = 410
    make_ticket(alice)
    deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.active and "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    make_ticket(alice)
    assert WebhookDelivery.objects.count() == 1  # nothing more queued for it


def test_an_endpoint_gets_only_the_events_it_asked_for(receiver, alice, agent, make_ticket):
    WebhookEndpoint.objects.create(url=receiver.url, events=["ticket.status_changed"])
    ticket = make_ticket(alice)
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    deliver_due()
    assert set(receiver.events()) == {"ticket.status_changed"}


def test_unreachable_receiver_is_a_transient_error(db, alice, make_ticket):
    receiver = Receiver()
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()
    WebhookEndpoint.objects.create(url=url)
    make_ticket(alice)
    deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "Connection refused" in delivery.last_error
