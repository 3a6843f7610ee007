"""The mail ledger is one click from every page for managers, with the number of
quarantined messages; agents and requesters neither see the link nor pay for its count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from caredesk.mail.models import InboundMessage
from caredesk.mail.tests.factories import build, deliver

LEDGER = "/agent/mail/"
INBOUND_TABLE = InboundMessage._meta.db_table


@pytest.fixture
def mail(db):
    """Three quarantined messages and one that made a ticket."""
    deliver(build(sender="rita@acme.test"))
    return [deliver(f"no headers at all {i}".encode()) for i in range(3)]


def _get(client, user, url):
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    inbound_queries = [q["sql"] for q in queries.captured_queries if INBOUND_TABLE in q["sql"]]
    return response.content.decode(), inbound_queries


def test_a_manager_sees_the_link_with_the_number_quarantined(client, manager, mail):
    assert [m.state for m in mail] == ["quarantined"] * 3

    page, inbound_queries = _get(client, manager, reverse("agent:queue"))

    assert f'<a href="{LEDGER}">Mail ledger (3 quarantined)</a>' in page
    assert len(inbound_queries) == 1  # one COUNT
    assert "COUNT(" in inbound_queries[0].upper()
    assert client.get(LEDGER).status_code == 200  # and it leads somewhere they may go


def test_the_link_shows_on_the_managers_other_pages_too(client, manager, mail):
    page, _ = _get(client, manager, reverse("portal:tickets"))

    assert f'<a href="{LEDGER}">Mail ledger (3 quarantined)</a>' in page


def test_without_quarantined_mail_the_link_shows_no_count(client, manager, db):
    deliver(build(sender="rita@acme.test"))

    page, _ = _get(client, manager, reverse("agent:queue"))

    assert f'<a href="{LEDGER}">Mail ledger</a>' in page
    assert "quarantined" not in page


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("agent", "agent:queue"),
        ("agent", "portal:tickets"),
        ("alice", "portal:tickets"),
    ],
)
def test_agents_and_requesters_do_not_see_it(request, client, mail, who, url):
    page, inbound_queries = _get(client, request.getfixturevalue(who), reverse(url))

    assert "Mail ledger" not in page
    assert LEDGER not in page
    assert "quarantined" not in page
    assert inbound_queries == []  # the count is not even run for them
