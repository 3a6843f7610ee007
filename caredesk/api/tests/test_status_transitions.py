"""Every (from, to) pair of statuses through ``POST /api/v1/tickets/{number}/status``.

The moves ``lifecycle.AGENT_TRANSITIONS`` allows answer 200 with the ticket moved and a
status event written; every other move is a 409 transition-refused problem that names the
moves the ticket can make, and changes nothing; asking for the status it already has is
a 200 that changes nothing.
"""

from __future__ import annotations

import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status
from caredesk.tickets.models import Event, Ticket

from .conftest import assert_problem

TRANSITION_REFUSED = "urn:caredesk:problem:transition-refused"

ALL = [s.value for s in Status]
PAIRS = [(start, target) for start in ALL for target in ALL]
ALLOWED = [(a, b) for a, b in PAIRS if b in lifecycle.AGENT_TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in PAIRS if a != b and b not in lifecycle.AGENT_TRANSITIONS[a]]
SAME = [(a, b) for a, b in PAIRS if a == b]


def test_the_pairs_cover_every_status_pair_once():
    assert sorted(ALLOWED + REFUSED + SAME) == sorted(PAIRS)
    assert len(PAIRS) == len(Status) ** 2
    # Each kind of answer is exercised: the table is not empty, nor total.
    assert ALLOWED and REFUSED


def _walk_to(ticket: Ticket, status: str, agent) -> Ticket:
    """A fresh ticket brought to ``status`` through the rules (claimed by ``agent``,
    except a new ticket, which nobody has claimed)."""
    if status != Status.NEW:
        lifecycle.claim(ticket, agent)
        if status == Status.CLOSED:
            lifecycle.change_status(ticket, Status.SOLVED, by=agent)
        if status != Status.OPEN:
            lifecycle.change_status(ticket, status, by=agent)
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


def _state(ticket: Ticket) -> tuple:
    ticket.refresh_from_db()
    events = list(Event.objects.filter(ticket=ticket).values_list("id", flat=True))
    return ticket.status, ticket.assignee_id, ticket.solved_at, ticket.closed_at, events


def _post(api, ticket: Ticket, target: str, agent):
    return api.post(f"/tickets/{ticket.number}/status", {"status": target}, as_=agent)


@pytest.mark.parametrize(("start", "target"), ALLOWED)
def test_an_allowed_move_changes_the_status_and_writes_an_event(api, agent, ticket, start, target):
    _walk_to(ticket, start, agent)
    before = set(Event.objects.filter(ticket=ticket).values_list("id", flat=True))

    response = _post(api, ticket, target, agent)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == target
    assert response.json()["number"] == ticket.number
    ticket.refresh_from_db()
    assert ticket.status == target
    assert ticket.assignee == agent  # an unclaimed ticket is claimed first
    new_events = ticket.events.exclude(id__in=before).order_by("id")
    if start == Status.NEW:
        # The claim opens it, then (unless opening was the move) the move itself.
        expected = [(EventKind.CLAIMED, "", agent.email), (EventKind.STATUS, start, Status.OPEN)]
        if target != Status.OPEN:
            expected.append((EventKind.STATUS, Status.OPEN, target))
    else:
        expected = [(EventKind.STATUS, start, target)]
    assert [(e.kind, e.from_value, e.to_value) for e in new_events] == expected
    assert all(e.actor == agent for e in new_events)
    # Solved stays stamped when a solved ticket closes; reopening clears it.
    assert (ticket.solved_at is not None) == (
        target == Status.SOLVED or (start, target) == (Status.SOLVED, Status.CLOSED)
    )
    assert (ticket.closed_at is not None) == (target == Status.CLOSED)


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_a_refused_move_is_a_409_that_lists_the_allowed_moves_and_changes_nothing(
    api, agent, ticket, start, target
):
    _walk_to(ticket, start, agent)
    before = _state(ticket)

    response = _post(api, ticket, target, agent)

    body = assert_problem(response, 409, TRANSITION_REFUSED)
    assert body["title"] == "The ticket cannot make this change"
    allowed = [Status(s).label for s in lifecycle.AGENT_TRANSITIONS[start]]
    if allowed:
        assert body["detail"].endswith(f"it can become: {', '.join(allowed)}."), body["detail"]
        assert Status(target).label not in body["detail"].split("it can become:")[1]
    else:  # closed: nothing to list
        assert "closed ticket cannot change" in body["detail"]
    assert _state(ticket) == before


@pytest.mark.parametrize(("start", "target"), SAME)
def test_asking_for_the_current_status_changes_nothing(api, agent, ticket, start, target):
    _walk_to(ticket, start, agent)
    before = _state(ticket)

    response = _post(api, ticket, target, agent)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == start
    assert _state(ticket) == before
