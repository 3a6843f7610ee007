"""Listing and reading tickets: who sees what."""

from __future__ import annotations

import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status

from .conftest import assert_problem


def _numbers(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [t["number"] for t in response.json()["items"]]


def test_requesters_list_their_own_tickets_newest_first(api, alice, bob, make_ticket):
    first, second = make_ticket(alice), make_ticket(alice)
    make_ticket(bob)

    assert _numbers(api.get("/tickets", as_=alice)) == [second.number, first.number]


def test_colleagues_see_each_others_tickets_only_when_the_organization_shares(
    api, alice, carol, make_ticket
):
    ticket = make_ticket(alice)
    assert _numbers(api.get("/tickets", as_=carol)) == []
    assert_problem(api.get(f"/tickets/{ticket.number}", as_=carol), 404)

    alice.organization.shared_tickets = True
    alice.organization.save()

    assert _numbers(api.get("/tickets", as_=carol)) == [ticket.number]
    assert api.get(f"/tickets/{ticket.number}", as_=carol).status_code == 200


@pytest.mark.parametrize("person", ["bob", "eve", "dev"])
def test_nobody_else_reaches_a_requesters_ticket(api, ticket, person, request):
    other = request.getfixturevalue(person)

    assert _numbers(api.get("/tickets", as_=other)) == []
    assert_problem(api.get(f"/tickets/{ticket.number}", as_=other), 404)
    assert_problem(api.get("/tickets/999999", as_=other), 404)  # same answer as missing


def test_developers_and_outsiders_see_their_own_tickets(api, dev, eve, make_ticket):
    mine = make_ticket(dev)
    theirs = make_ticket(eve)

    assert _numbers(api.get("/tickets", as_=dev)) == [mine.number]
    assert _numbers(api.get("/tickets", as_=eve)) == [theirs.number]


def test_agents_list_the_tickets_they_requested(api, agent, alice, make_ticket):
    make_ticket(alice)
    own = make_ticket(agent)

    assert _numbers(api.get("/tickets", as_=agent)) == [own.number]


def test_pages_follow_the_cursor_to_the_end(api, alice, make_ticket):
    tickets = [make_ticket(alice, subject=f"Problem {i}") for i in range(5)]
    expected = [t.number for t in reversed(tickets)]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = api.get("/tickets", as_=alice, params=params)
        seen += _numbers(response)
        body = response.json()
        pages += 1
        if body["next_cursor"] is None:
            assert body["next"] is None
            break
        assert body["next"].startswith("http://testserver/api/v1/tickets?")
        assert f"cursor={body['next_cursor']}" in body["next"] and "limit=2" in body["next"]
        cursor = body["next_cursor"]

    assert seen == expected
    assert pages == 3


def test_a_foreign_cursor_is_refused(api, alice, agent):
    body = assert_problem(
        api.get("/tickets", as_=alice, params={"cursor": "bm9wZQ"}),
        422,
        "urn:caredesk:problem:validation",
    )
    assert body["errors"][0]["loc"] == ["query", "cursor"]


def test_it_filters_by_status(api, alice, make_ticket):
    solved = make_ticket(alice)
    make_ticket(alice)
    lifecycle.mark_solved_by_requester(solved, alice)

    response = api.get("/tickets", as_=alice, params={"status": Status.SOLVED})

    assert _numbers(response) == [solved.number]
    assert_problem(
        api.get("/tickets", as_=alice, params={"status": "lost"}),
        422,
        "urn:caredesk:problem:validation",
    )


def test_requesters_read_public_messages_only(api, alice, agent, ticket):
    lifecycle.agent_reply(ticket, agent, "Internal: looks like bug 77", internal=True)
    lifecycle.agent_reply(ticket, agent, "Could you send a screenshot?")

    body = api.get(f"/tickets/{ticket.number}", as_=alice).json()

    bodies = [m["body"] for m in body["messages"]]
    assert "Could you send a screenshot?" in bodies
    assert not any("bug 77" in b for b in bodies)
    assert all(not m["internal"] for m in body["messages"])
    assert body["events"] is None
    assert body["client_context"] is None
    # Agents appear to requesters by name, with no id or email.
    assert body["messages"][-1]["author"] == {"id": None, "name": "Agent", "email": None}
    assert body["assignee"] == {"id": None, "name": "Agent", "email": None}


def test_agents_read_notes_events_and_the_client_context(api, alice, agent, make_ticket):
    ticket = make_ticket(alice, client_context={"app": "mobile", "version": "4.2.1"})
    lifecycle.agent_reply(ticket, agent, "Internal: looks like bug 77", internal=True)

    body = api.get(f"/tickets/{ticket.number}", as_=agent).json()

    assert any(m["internal"] and "bug 77" in m["body"] for m in body["messages"])
    assert [e["kind"] for e in body["events"]] == ["created", "noted"]
    assert body["events"][1]["actor"]["email"] == "agent@caredesk.test"
    assert body["client_context"] == {"app": "mobile", "version": "4.2.1"}
    assert body["requester"]["email"] == "alice@acme.test"


def test_anyone_may_read_their_own_ticket_even_as_an_agent(api, manager, make_ticket):
    own = make_ticket(manager)

    assert api.get(f"/tickets/{own.number}", as_=manager).status_code == 200
