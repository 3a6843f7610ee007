import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status


def test_it_claims_an_unclaimed_ticket(ticket, agent):
    lifecycle.claim(ticket, agent)
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.status == Status.OPEN
    assert ticket.claimed_at is not None
    assert ticket.events.filter(kind=EventKind.CLAIMED, actor=agent).count() == 1


def test_it_tells_the_second_agent_who_won(ticket, agent, agent2):
    lifecycle.claim(ticket, agent)
    with pytest.raises(lifecycle.ClaimConflict, match="Agent") as err:
        lifecycle.claim(ticket, agent2)
    assert err.value.holder == agent
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.events.filter(kind=EventKind.CLAIMED).count() == 1


def test_claiming_twice_is_harmless(ticket, agent):
    lifecycle.claim(ticket, agent)
    lifecycle.claim(ticket, agent)
    assert ticket.events.filter(kind=EventKind.CLAIMED).count() == 1


@pytest.mark.parametrize("who", ["alice", "dev", "eve"])
def test_only_agents_claim(request, ticket, who):
    user = request.getfixturevalue(who)
    with pytest.raises(lifecycle.TransitionError, match="Only support agents"):
        lifecycle.claim(ticket, user)
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.status == Status.NEW


def test_a_solved_ticket_cannot_be_claimed(ticket, alice, agent):
    lifecycle.mark_solved_by_requester(ticket, alice)
    with pytest.raises(lifecycle.TransitionError, match="solved"):
        lifecycle.claim(ticket, agent)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_manager_reassigns_and_returns_to_queue(ticket, agent, agent2, manager):
    lifecycle.claim(ticket, agent)
    lifecycle.assign(ticket, agent2, by=manager)
    ticket.refresh_from_db()
    assert ticket.assignee == agent2 and ticket.status == Status.OPEN
    lifecycle.assign(ticket, None, by=manager)
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.status == Status.NEW
    kinds = list(ticket.events.values_list("kind", "from_value", "to_value"))
    assert (EventKind.ASSIGNED, agent.email, agent2.email) in kinds
    assert (EventKind.ASSIGNED, agent2.email, "") in kinds
    assert (EventKind.STATUS, Status.OPEN, Status.NEW) in kinds


def test_manager_assigns_an_unclaimed_ticket(ticket, agent, manager):
    lifecycle.assign(ticket, agent, by=manager)
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.status == Status.OPEN


def test_agent_may_not_reassign(ticket, agent, agent2):
    lifecycle.claim(ticket, agent)
    with pytest.raises(lifecycle.TransitionError, match="manager"):
        lifecycle.assign(ticket, agent2, by=agent)
    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_cannot_assign_to_a_requester(ticket, alice, manager):
    with pytest.raises(lifecycle.TransitionError, match="not a support agent"):
        lifecycle.assign(ticket, alice, by=manager)
    ticket.refresh_from_db()
    assert ticket.assignee is None
