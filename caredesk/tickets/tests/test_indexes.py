"""The partial indexes on tickets serve the queries they were made for: each of those
queries implies the index's condition, or SQLite (and PostgreSQL) would not use it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status


def _plans(queries, table: str = '"tickets_ticket"') -> list[str]:
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if f"FROM {table}" not in sql:
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plans.append(" ".join(str(row) for row in cursor.fetchall()))
    return plans


@pytest.fixture
def sqlite(is_postgres):
    if is_postgres:
        pytest.skip("PostgreSQL's planner scans a tiny table whatever its indexes")


@pytest.mark.parametrize(
    ("queue", "index"),
    [("mine", "ticket_assignee_status_id"), ("solved", "ticket_status_solved")],
)
def test_the_queues_use_the_partial_indexes(
    sqlite, client, agent, alice, make_ticket, queue, index
):
    ticket = make_ticket(alice)
    lifecycle.claim(ticket, agent)
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    client.force_login(agent)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/agent/", {"queue": queue}).status_code == 200
    assert any(index in plan for plan in _plans(queries)), _plans(queries)


def test_the_follow_ups_of_a_ticket_are_found_by_the_partial_index(
    sqlite, client, alice, make_ticket
):
    ticket = make_ticket(alice)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/portal/tickets/{ticket.pk}/").status_code == 200
    follow_ups = [q for q in queries if "follow_up_of_id" in q["sql"].split("WHERE")[-1]]
    assert follow_ups
    assert all("ticket_follow_up_of" in plan for plan in _plans(follow_ups))
