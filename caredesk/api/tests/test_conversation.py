"""Replies, internal notes, solving and reopening through the API."""

from __future__ import annotations

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel, MessageKind, Status
from caredesk.tickets.models import Ticket

from .conftest import assert_problem

TRANSITION = "urn:caredesk:problem:transition-refused"


def test_a_requester_replies(api, alice, ticket):
    response = api.post(
        f"/tickets/{ticket.number}/messages",
        {"body": "  It still fails  "},
        as_=alice,
        headers={"X-Caredesk-Client": "mobile/4.2.1"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ticket"] == ticket.number
    assert body["body"] == "It still fails"
    assert body["kind"] == MessageKind.REPLY and body["internal"] is False
    assert body["channel"] == Channel.MOBILE
    assert body["author"]["email"] == "alice@acme.test"


def test_a_requester_reply_reopens_a_pending_ticket(api, alice, agent, ticket):
    lifecycle.agent_reply(ticket, agent, "Which browser?", status=Status.PENDING)

    api.post(f"/tickets/{ticket.number}/messages", {"body": "Firefox"}, as_=alice)

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_a_reply_with_files_from_multipart(api, alice, ticket):
    response = api.post_form(
        f"/tickets/{ticket.number}/messages",
        {"body": "Screenshot attached", "attachments": [png_upload()]},
        as_=alice,
    )

    assert response.status_code == 201
    assert response.json()["attachments"][0]["filename"] == "screenshot.png"


def test_requesters_may_not_write_notes_or_set_a_status(api, alice, ticket):
    path = f"/tickets/{ticket.number}/messages"

    assert_problem(api.post(path, {"body": "x", "internal": True}, as_=alice), 403)
    assert_problem(api.post(path, {"body": "x", "status": "solved"}, as_=alice), 403)
    assert ticket.messages.count() == 1


def test_nobody_replies_to_a_ticket_they_cannot_see(api, bob, ticket):
    response = api.post(f"/tickets/{ticket.number}/messages", {"body": "Hi"}, as_=bob)

    assert_problem(response, 404)
    assert ticket.messages.count() == 1


def test_an_agent_replies_claims_and_sets_pending(api, agent, ticket):
    response = api.post(
        f"/tickets/{ticket.number}/messages",
        {"body": "Which browser do you use?", "status": "pending"},
        as_=agent,
    )

    assert response.status_code == 201
    assert response.json()["channel"] == Channel.AGENT
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.status == Status.PENDING
    assert ticket.first_response_at is not None


def test_an_agent_adds_an_internal_note(api, agent, alice, ticket):
    response = api.post(
        f"/tickets/{ticket.number}/messages",
        {"body": "Reproduced on staging", "internal": True},
        as_=agent,
    )

    assert response.status_code == 201
    assert response.json()["kind"] == MessageKind.NOTE
    seen_by_alice = api.get(f"/tickets/{ticket.number}", as_=alice).json()["messages"]
    assert all("staging" not in m["body"] for m in seen_by_alice)


def test_a_status_the_rules_refuse_is_a_409(api, agent, ticket):
    response = api.post(
        f"/tickets/{ticket.number}/messages", {"body": "Done", "status": "closed"}, as_=agent
    )

    body = assert_problem(response, 409, TRANSITION)
    assert "cannot become Closed" in body["detail"]
    assert ticket.messages.count() == 1


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(api, alice, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)

    response = api.post(f"/tickets/{ticket.number}/messages", {"body": "It is back"}, as_=alice)

    assert response.status_code == 201
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.json()["ticket"] == follow_up.number
    assert follow_up.requester == alice


def test_a_requester_marks_the_ticket_solved(api, alice, ticket):
    response = api.post(f"/tickets/{ticket.number}/solve", as_=alice)

    assert response.status_code == 200
    assert response.json()["status"] == Status.SOLVED
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert api.post(f"/tickets/{ticket.number}/solve", as_=alice).status_code == 200


def test_solving_a_closed_ticket_is_a_409(api, alice, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)

    assert_problem(api.post(f"/tickets/{ticket.number}/solve", as_=alice), 409, TRANSITION)


def test_only_the_requester_side_solves_and_reopens(api, bob, agent, ticket):
    assert_problem(api.post(f"/tickets/{ticket.number}/solve", as_=bob), 404)
    assert_problem(api.post(f"/tickets/{ticket.number}/solve", as_=agent), 403)
    assert_problem(api.post(f"/tickets/{ticket.number}/reopen", {"body": "x"}, as_=agent), 403)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_reopening_a_solved_ticket_is_a_reply_that_opens_it(api, alice, agent, ticket):
    lifecycle.claim(ticket, agent)
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)

    response = api.post(
        f"/tickets/{ticket.number}/reopen", {"body": "It fails again today"}, as_=alice
    )

    assert response.status_code == 201
    assert response.json()["ticket"] == ticket.number
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.messages.last().body == "It fails again today"


def test_reopening_a_closed_ticket_opens_a_follow_up(api, alice, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)

    response = api.post(f"/tickets/{ticket.number}/reopen", {"body": "Back again"}, as_=alice)

    assert response.status_code == 201
    assert response.json()["ticket"] == Ticket.objects.get(follow_up_of=ticket).number


def test_reopening_an_open_ticket_is_a_409(api, alice, ticket):
    response = api.post(f"/tickets/{ticket.number}/reopen", {"body": "Again"}, as_=alice)

    body = assert_problem(response, 409, TRANSITION)
    assert "post a message" in body["detail"]
    assert ticket.messages.count() == 1
