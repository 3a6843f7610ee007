"""Every transition of the status machine, allowed and refused."""

import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status
from caredesk.tickets.models import Event, Ticket

ALL = [s.value for s in Status]


def _walk_to(ticket, status, agent):
    """Bring a fresh ticket to ``status`` through the rules."""
    if status == Status.NEW:
        return
    lifecycle.claim(ticket, agent)
    if status in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
        lifecycle.change_status(ticket, status, by=agent)
    elif status == Status.CLOSED:
        lifecycle.change_status(ticket, Status.SOLVED, by=agent)
        lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    ticket.refresh_from_db()
    assert ticket.status == status


ALLOWED = [(a, b) for a, targets in lifecycle.AGENT_TRANSITIONS.items() for b in targets]
REFUSED = [(a, b) for a in ALL for b in ALL if a != b and b not in lifecycle.AGENT_TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "target"), ALLOWED)
def test_allowed_transition(ticket, agent, start, target):
    _walk_to(ticket, start, agent)
    seen = list(Event.objects.filter(ticket=ticket).values_list("id", flat=True))
    lifecycle.change_status(ticket, target, by=agent)
    ticket.refresh_from_db()
    assert ticket.status == target
    # One status event per step (from "new", the claim opens the ticket first).
    steps = list(ticket.events.filter(kind=EventKind.STATUS).exclude(id__in=seen).order_by("id"))
    assert [(e.from_value, e.to_value) for e in steps] == (
        [(start, target)]
        if start != Status.NEW or target == Status.OPEN
        else [(Status.NEW, Status.OPEN), (Status.OPEN, target)]
    )
    assert all(e.actor == agent for e in steps)
    if target == Status.SOLVED:
        assert ticket.solved_at is not None
    if target == Status.CLOSED:
        assert ticket.closed_at is not None


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_refused_transition_changes_nothing_and_says_why(ticket, agent, start, target):
    _walk_to(ticket, start, agent)
    events_before = list(Event.objects.filter(ticket=ticket).values_list("id", flat=True))
    with pytest.raises(lifecycle.TransitionError) as err:
        lifecycle.change_status(ticket, target, by=agent)
    assert str(err.value)  # a reason, fit to show
    ticket.refresh_from_db()
    assert ticket.status == start
    assert list(Event.objects.filter(ticket=ticket).values_list("id", flat=True)) == (events_before)


def test_working_an_unclaimed_ticket_claims_it(ticket, agent):
    lifecycle.change_status(ticket, Status.PENDING, by=agent)
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.status == Status.PENDING


def test_unknown_status_is_refused(ticket, agent):
    with pytest.raises(lifecycle.TransitionError, match="Unknown status"):
        lifecycle.change_status(ticket, "archived", by=agent)


def test_requester_cannot_change_status(ticket, alice):
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.change_status(ticket, Status.SOLVED, by=alice)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_reopening_clears_solved_at(ticket, agent):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.OPEN, by=agent)
    ticket.refresh_from_db()
    assert ticket.solved_at is None


def test_requester_marks_solved(ticket, alice):
    lifecycle.mark_solved_by_requester(ticket, alice)
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    event = ticket.events.get(kind=EventKind.STATUS)
    assert event.actor == alice and event.data == {"by_requester": True}


def test_requester_cannot_solve_a_closed_ticket(ticket, alice, agent):
    _walk_to(ticket, Status.CLOSED, agent)
    with pytest.raises(lifecycle.TransitionError, match="closed"):
        lifecycle.mark_solved_by_requester(ticket, alice)


def test_a_move_decided_on_a_status_that_is_gone_is_refused(ticket, agent, agent2):
    """Agent 2 read the ticket solved; agent 1 closed it meanwhile: 2's reopening must
    not land on the closed ticket (a closed ticket never changes)."""
    _walk_to(ticket, Status.SOLVED, agent)
    seen_by_agent2 = Ticket.objects.get(pk=ticket.pk)
    lifecycle.change_status(Ticket.objects.get(pk=ticket.pk), Status.CLOSED, by=agent)

    with pytest.raises(lifecycle.TransitionError, match="changed meanwhile: it is closed now"):
        lifecycle.change_status(seen_by_agent2, Status.OPEN, by=agent2)

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    moves = Event.objects.filter(ticket=ticket, kind=EventKind.STATUS)
    assert list(moves.values_list("to_value", flat=True).order_by("id"))[-1] == Status.CLOSED
    assert seen_by_agent2.status == Status.CLOSED  # the caller's copy shows what is
