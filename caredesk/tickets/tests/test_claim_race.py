"""Two agents press "Claim" on the same ticket at the same moment.

Each agent runs in its own thread with its own database connection, released together
by a barrier, so the two conditional UPDATEs really race inside PostgreSQL. Exactly one
must win; the other must get ClaimConflict naming the winner; one CLAIMED event only.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status
from caredesk.tickets.models import Ticket

ROUNDS = 20


def claim_in_threads(ticket_pk: int, agents, *, together: bool) -> list:
    """Each agent claims from its own thread (own connection); returns what each got:
    the claimed Ticket or the exception. ``together`` releases them at one barrier;
    otherwise they go one after the other."""
    results: list = [None] * len(agents)
    barrier = threading.Barrier(len(agents))

    def claim(index: int) -> None:
        try:
            ticket = Ticket.objects.get(pk=ticket_pk)  # each thread reads its own copy
            if together:
                barrier.wait(timeout=30)
            results[index] = lifecycle.claim(ticket, agents[index])
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()  # this thread's connection, not the test's

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(agents))]
    for thread in threads:
        thread.start()
        if not together:
            thread.join()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a claim hung"
    return results


def assert_one_winner(ticket: Ticket, results: list, agents) -> None:
    winners = [agents[i] for i, got in enumerate(results) if isinstance(got, Ticket)]
    losers = [got for got in results if not isinstance(got, Ticket)]
    assert len(winners) == 1, results
    assert len(losers) == len(agents) - 1, results
    winner = winners[0]
    for err in losers:
        assert isinstance(err, lifecycle.ClaimConflict), repr(err)
        assert err.holder == winner
        assert winner.display_name in str(err)
    ticket.refresh_from_db()
    assert ticket.assignee == winner
    assert ticket.status == Status.OPEN
    claimed = ticket.events.filter(kind=EventKind.CLAIMED)
    assert list(claimed.values_list("actor", flat=True)) == [winner.pk]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_agents_claiming_at_the_same_moment_have_exactly_one_winner(
    alice, agent, agent2, make_ticket
):
    agents = [agent, agent2]
    for round_ in range(ROUNDS):
        ticket = make_ticket(alice, subject=f"Race {round_}")
        results = claim_in_threads(ticket.pk, agents, together=True)
        assert_one_winner(ticket, results, agents)


@pytest.mark.django_db(transaction=True)
def test_sequential_claims_from_separate_connections(alice, agent, agent2, make_ticket):
    ticket = make_ticket(alice)
    results = claim_in_threads(ticket.pk, [agent, agent2], together=False)
    assert isinstance(results[0], Ticket)
    assert_one_winner(ticket, results, [agent, agent2])
