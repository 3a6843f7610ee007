"""Agents and managers: queues, claim, triage, status and assignment."""

from __future__ import annotations

import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Category, Channel, EventKind, Priority, Status

from .conftest import assert_problem

CLAIM_CONFLICT = "urn:caredesk:problem:claim-conflict"
TRANSITION = "urn:caredesk:problem:transition-refused"


def _numbers(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [t["number"] for t in response.json()["items"]]


def test_the_unclaimed_queue_in_number_order(api, agent, alice, bob, make_ticket):
    first, second = make_ticket(alice), make_ticket(bob)
    claimed = make_ticket(alice)
    lifecycle.claim(claimed, agent)

    response = api.get("/queues/unclaimed", as_=agent)

    assert _numbers(response) == [first.number, second.number]
    assert response.json()["queue"] == "unclaimed"
    assert _numbers(api.get("/queues/mine", as_=agent)) == [claimed.number]


def test_queue_filters_and_search(api, agent, alice, bob, make_ticket):
    email = make_ticket(alice, channel=Channel.EMAIL, subject="Password reset loop")
    make_ticket(bob, channel=Channel.PORTAL, subject="Printer")
    lifecycle.categorize(email, Category.BUG, by=agent)

    assert _numbers(api.get("/queues/unclaimed", as_=agent, params={"channel": "email"})) == [
        email.number
    ]
    assert _numbers(api.get("/queues/unclaimed", as_=agent, params={"category": "bug"})) == [
        email.number
    ]
    assert _numbers(api.get("/queues/unclaimed", as_=agent, params={"org_kind": "church"})) == [
        email.number + 1
    ]
    assert _numbers(api.get("/queues/solved", as_=agent, params={"q": "password"})) == [
        email.number
    ]


def test_queue_pages_follow_the_cursor(api, agent, alice, make_ticket):
    tickets = [make_ticket(alice, subject=f"Problem {i}") for i in range(27)]

    first = api.get("/queues/unclaimed", as_=agent).json()
    second = api.get("/queues/unclaimed", as_=agent, params={"cursor": first["next_cursor"]})

    assert len(first["items"]) == 25
    assert _numbers(second) == [t.number for t in tickets[25:]]
    assert second.json()["next_cursor"] is None
    # A cursor of another queue (or of the ticket list) is refused, not misread.
    assert_problem(
        api.get("/queues/open", as_=agent, params={"cursor": first["next_cursor"]}),
        422,
        "urn:caredesk:problem:validation",
    )


@pytest.mark.parametrize("person", ["alice", "dev", "eve"])
def test_only_agents_see_the_queues(api, person, request):
    assert_problem(api.get("/queues/unclaimed", as_=request.getfixturevalue(person)), 403)


def test_an_unknown_queue_is_a_validation_problem(api, agent):
    assert_problem(api.get("/queues/lost", as_=agent), 422, "urn:caredesk:problem:validation")


def test_an_agent_claims_a_ticket(api, agent, ticket):
    response = api.post(f"/tickets/{ticket.number}/claim", as_=agent)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == Status.OPEN
    assert body["assignee"]["email"] == "agent@caredesk.test"
    assert api.post(f"/tickets/{ticket.number}/claim", as_=agent).status_code == 200


def test_the_second_agent_to_claim_learns_who_holds_it(api, agent, agent2, ticket):
    assert api.post(f"/tickets/{ticket.number}/claim", as_=agent).status_code == 200

    response = api.post(f"/tickets/{ticket.number}/claim", as_=agent2)

    body = assert_problem(response, 409, CLAIM_CONFLICT)
    assert body["holder"] == {"name": "Agent"}
    assert "already claimed by Agent" in body["detail"]
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.events.filter(kind=EventKind.CLAIMED).count() == 1


def test_claiming_a_solved_ticket_is_a_409(api, agent, alice, ticket):
    lifecycle.mark_solved_by_requester(ticket, alice)

    assert_problem(api.post(f"/tickets/{ticket.number}/claim", as_=agent), 409, TRANSITION)


def test_agents_categorize_and_prioritize(api, agent, ticket):
    category = api.post(f"/tickets/{ticket.number}/categorize", {"category": "bug"}, as_=agent)
    priority = api.post(f"/tickets/{ticket.number}/priority", {"priority": "urgent"}, as_=agent)

    assert category.status_code == priority.status_code == 200
    assert priority.json()["category"] == Category.BUG
    assert priority.json()["priority"] == Priority.URGENT
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.CATEGORIZED, EventKind.PRIORITY]


def test_unknown_values_are_validation_problems(api, agent, ticket):
    for action, payload in [
        ("categorize", {"category": "gossip"}),
        ("priority", {"priority": "asap"}),
        ("status", {"status": "lost"}),
        ("assign", {}),
    ]:
        response = api.post(f"/tickets/{ticket.number}/{action}", payload, as_=agent)
        body = assert_problem(response, 422, "urn:caredesk:problem:validation")
        assert body["errors"][0]["loc"][0] == "body"


def test_agents_change_the_status_along_the_rules(api, agent, ticket):
    response = api.post(f"/tickets/{ticket.number}/status", {"status": "on_hold"}, as_=agent)

    assert response.status_code == 200
    assert response.json()["status"] == Status.ON_HOLD
    assert response.json()["assignee"]["email"] == "agent@caredesk.test"  # claimed first

    refused = api.post(f"/tickets/{ticket.number}/status", {"status": "closed"}, as_=agent)
    body = assert_problem(refused, 409, TRANSITION)
    assert "On-hold ticket cannot become Closed" in body["detail"]


def test_a_manager_assigns_and_returns_to_the_queue(api, manager, agent2, ticket):
    assigned = api.post(f"/tickets/{ticket.number}/assign", {"assignee": agent2.pk}, as_=manager)

    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["assignee"]["id"] == agent2.pk
    assert assigned.json()["status"] == Status.OPEN

    returned = api.post(f"/tickets/{ticket.number}/assign", {"assignee": None}, as_=manager)
    assert returned.json()["assignee"] is None
    assert returned.json()["status"] == Status.NEW


def test_only_managers_assign_and_only_to_agents(api, manager, agent, alice, ticket):
    assert_problem(
        api.post(f"/tickets/{ticket.number}/assign", {"assignee": agent.pk}, as_=agent), 403
    )
    body = assert_problem(
        api.post(f"/tickets/{ticket.number}/assign", {"assignee": alice.pk}, as_=manager),
        422,
        "urn:caredesk:problem:validation",
    )
    assert body["errors"][0]["loc"] == ["body", "assignee"]
    ticket.refresh_from_db()
    assert ticket.assignee is None


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("claim", None),
        ("categorize", {"category": "bug"}),
        ("priority", {"priority": "high"}),
        ("status", {"status": "pending"}),
        ("assign", {"assignee": None}),
    ],
)
def test_requesters_may_not_work_tickets(api, alice, bob, ticket, action, payload):
    # Their own ticket: a 403 (they see it, they may not do this).
    assert_problem(api.post(f"/tickets/{ticket.number}/{action}", payload, as_=alice), 403)
    # Someone else's: a 404, as if it did not exist.
    assert_problem(api.post(f"/tickets/{ticket.number}/{action}", payload, as_=bob), 404)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.category == Category.UNCATEGORIZED
