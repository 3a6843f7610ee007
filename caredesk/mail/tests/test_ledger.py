import io
import json

import pytest
from django.core.management import CommandError, call_command

from caredesk.conftest import PASSWORD
from caredesk.mail.choices import Outcome, State
from caredesk.mail.models import InboundMessage

from .factories import build, deliver

pytestmark = pytest.mark.django_db


def _stats() -> dict:
    out = io.StringIO()
    call_command("mail", "stats", stdout=out)
    return json.loads(out.getvalue())


def test_stats_count_every_outcome():
    raw = build()
    deliver(raw)
    deliver(raw)
    deliver(b"garbage without headers")
    stats = _stats()
    assert stats[Outcome.NEW_TICKET] == 1
    assert stats[Outcome.DUPLICATE] == 1
    assert stats[Outcome.QUARANTINED] == 1
    assert stats["total"] == 3 and stats["queued"] == 0


def test_retry_command_queues_quarantined_again():
    bad = deliver(b"no headers at all")
    out = io.StringIO()
    call_command("mail", "retry", str(bad.pk), stdout=out)
    assert "1 message" in out.getvalue()
    bad.refresh_from_db()
    assert bad.state == State.QUEUED


def test_manager_searches_the_ledger_and_retries(client, manager):
    good = deliver(build(sender="rita@acme.test"))
    bad = deliver(b"no headers at all")
    client.login(username=manager.email, password=PASSWORD)
    page = client.get("/agent/mail/", {"q": "Rita@ACME.test"})  # any case
    assert page.status_code == 200
    assert f"#{good.ticket_id}" in page.text
    assert "no headers" not in page.text
    quarantined = client.get("/agent/mail/", {"state": "quarantined"})
    assert f'href="/agent/mail/{bad.pk}/"' in quarantined.text
    entry = client.get(f"/agent/mail/{bad.pk}/")
    assert "No sender" in entry.text
    client.post(f"/agent/mail/{bad.pk}/retry/")
    bad.refresh_from_db()
    assert bad.state == State.QUEUED


@pytest.mark.parametrize("who", ["agent", "alice", "dev"])
def test_the_ledger_is_for_managers(request, client, who):
    bad = deliver(b"no headers at all")
    user = request.getfixturevalue(who)
    client.login(username=user.email, password=PASSWORD)
    assert client.get("/agent/mail/").status_code == 404
    assert client.get(f"/agent/mail/{bad.pk}/").status_code == 404
    assert client.post(f"/agent/mail/{bad.pk}/retry/").status_code == 404
    assert InboundMessage.objects.get().state == State.QUARANTINED


def test_a_ledger_search_reads_indexes_not_the_whole_ledger(client, manager, is_postgres):
    """At a million received messages a scan per search would be seconds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    deliver(build(sender="rita@acme.test"))
    client.force_login(manager)
    with CaptureQueriesContext(connection) as queries:
        client.get("/agent/mail/", {"q": "rita@acme.test"})
    (search,) = [
        q["sql"] for q in queries if "mail_inboundmessage" in q["sql"] and "sender" in q["sql"]
    ]
    if is_postgres:
        pytest.skip("PostgreSQL's planner scans a tiny table whatever its indexes")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {search}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "SCAN mail_inboundmessage" not in plan


def test_the_ledger_page_counts_the_quarantine_once_for_page_and_navigation(client, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    deliver(b"no headers at all")
    client.force_login(manager)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/agent/mail/").text
    assert "<strong>1 quarantined</strong>" in page and "(1 quarantined)" in page
    counts = [q for q in queries if "COUNT" in q["sql"] and "mail_inboundmessage" in q["sql"]]
    assert len(counts) == 1


@pytest.mark.parametrize("field", ["q", "before"])
@pytest.mark.parametrize("value", ["²", "9" * 30])
def test_a_ledger_search_by_a_number_that_is_none_shows_no_error(client, manager, field, value):
    good = deliver(build(sender="rita@acme.test"))
    client.login(username=manager.email, password=PASSWORD)
    page = client.get("/agent/mail/", {field: value})
    assert page.status_code == 200
    assert (f"#{good.ticket_id}" in page.text) == (field == "before")


def test_mail_held_for_its_senders_authentication_is_released_by_name(client, manager, settings):
    settings.MAIL_AUTHSERV_ID = "mx.desk.test"
    held = deliver(build(headers={"Authentication-Results": "mx.desk.test; dmarc=fail"}))
    assert held.state == State.QUARANTINED
    with pytest.raises(CommandError, match="Name the messages"):
        call_command("mail", "retry", "--release")
    client.login(username=manager.email, password=PASSWORD)
    page = client.get(f"/agent/mail/{held.pk}/")
    assert "Release and process" in page.text
    client.post(f"/agent/mail/{held.pk}/retry/", {"release": "1"})
    held.refresh_from_db()
    assert held.state == State.QUEUED and held.released_at is not None
