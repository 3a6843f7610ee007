"""Sender authentication: what the receiving server found (mail/authentication.py), and
what processing does with it: an agent's address speaks as support only when proven,
and mail its domain disowns waits in quarantine until a person releases it."""

from __future__ import annotations

import pytest

from caredesk.mail.authentication import FAIL, NONE, PASS, verdict
from caredesk.mail.choices import Outcome, State
from caredesk.mail.parsing import parse
from caredesk.mail.processing import process_pending, retry
from caredesk.outbox.models import OutboundEmail
from caredesk.tickets.choices import MessageKind, Status

from .factories import build, deliver, ledger

SERVER = "mx.desk.test"


@pytest.mark.parametrize(
    ("header", "sender", "expected"),
    [
        (f"{SERVER}; dmarc=pass (p=reject) header.from=acme.test", "alice@acme.test", PASS),
        (f"{SERVER}; dkim=pass header.d=acme.test header.s=s1", "alice@acme.test", PASS),
        (f"{SERVER}; dkim=pass header.d=acme.test", "alice@eu.acme.test", PASS),
        (f"{SERVER}; spf=pass smtp.mailfrom=bounces@acme.test", "alice@acme.test", PASS),
        (
            f"{SERVER}; dkim=pass header.d=evil.test; spf=pass smtp.mailfrom=x@evil.test",
            "alice@acme.test",
            NONE,
        ),
        (f"{SERVER}; dmarc=fail (p=reject) header.from=acme.test", "alice@acme.test", FAIL),
        (f"{SERVER}; dmarc=fail header.from=other.test", "alice@acme.test", NONE),
        (f"{SERVER} 1; spf=none; dkim=none; dmarc=none", "alice@acme.test", NONE),
        (f"{SERVER}; none", "alice@acme.test", NONE),
        # Comments and a quoted reason holding a ";" change nothing.
        (
            f'{SERVER} (postfix); dkim=pass reason="good; sig" (ok) header.d=acme.test',
            "alice@acme.test",
            PASS,
        ),
        # Another server's findings are anyone's to write: not ours, not counted.
        ("mx.evil.test; dmarc=pass header.from=acme.test", "alice@acme.test", NONE),
    ],
)
def test_the_verdict_reads_the_trusted_servers_findings(header, sender, expected):
    assert verdict([header], sender, SERVER) == expected


def test_without_a_trusted_server_nothing_is_proven():
    assert verdict([f"{SERVER}; dmarc=pass header.from=acme.test"], "a@acme.test", "") == NONE


def _results(value: str) -> dict[str, str]:
    return {"Authentication-Results": value}


def _agent_mail_on_a_ticket(agent, results: str | None = None, **fields):
    """A ticket opened by mail, then a mail from ``agent``'s address tagged for it; the
    first ticket and the second mail's ledger row."""
    first = deliver(build(**fields))
    headers = _results(results) if results else None
    raw = build(sender=agent.email, subject=f"Re: [#{first.ticket.pk}] x", headers=headers)
    return first, deliver(raw)


def test_mail_from_an_agents_address_is_a_flagged_note_unless_proven(agent):
    first = deliver(build())
    sent = OutboundEmail.objects.count()
    forged = deliver(
        build(
            sender=agent.email,
            subject=f"Re: [#{first.ticket.pk}] Cannot add a volunteer",
            body="Please confirm your bank details at http://evil.test",
        )
    )
    assert forged.outcome == Outcome.UNVERIFIED and forged.ticket == first.ticket
    note = first.ticket.messages.get(kind=MessageKind.UNVERIFIED)
    assert note.internal and note.author is None
    assert "did not prove" in note.body and "bank details" in note.body
    assert OutboundEmail.objects.count() == sent  # nothing went to the requester
    first.ticket.refresh_from_db()
    assert (first.ticket.status, first.ticket.first_response_at) == (Status.NEW, None)


def test_an_agents_proven_mail_is_their_answer(agent, settings):
    settings.MAIL_AUTHSERV_ID = SERVER
    first, reply = _agent_mail_on_a_ticket(agent, f"{SERVER}; dkim=pass header.d=caredesk.test")
    assert reply.outcome == Outcome.FOLLOW_UP
    assert not first.ticket.messages.filter(kind=MessageKind.UNVERIFIED).exists()


def test_a_forged_result_under_another_servers_name_proves_nothing(agent, settings):
    settings.MAIL_AUTHSERV_ID = SERVER
    _, forged = _agent_mail_on_a_ticket(agent, "mx.evil.test; dmarc=pass header.from=caredesk.test")
    assert forged.outcome == Outcome.UNVERIFIED


def test_mail_its_domain_disowns_waits_for_a_person(db, settings):
    settings.MAIL_AUTHSERV_ID = SERVER
    disowned = deliver(build(headers=_results(f"{SERVER}; dmarc=fail header.from=acme.test")))
    assert (disowned.state, disowned.outcome) == (State.QUARANTINED, Outcome.QUARANTINED)
    assert disowned.error.startswith("Sender authentication failed") and not disowned.ticket

    assert retry(ledger().filter(pk=disowned.pk)) == 1  # retried: held again
    process_pending()
    disowned.refresh_from_db()
    assert (disowned.state, disowned.released_at) == (State.QUARANTINED, None)

    assert retry(ledger().filter(pk=disowned.pk), release=True) == 1  # a person vouches
    process_pending()
    disowned.refresh_from_db()
    assert (disowned.state, disowned.outcome) == (State.DONE, Outcome.NEW_TICKET)
    assert disowned.released_at is not None


def test_no_release_lets_mail_speak_as_an_agent(agent, settings):
    settings.MAIL_AUTHSERV_ID = SERVER
    first, forged = _agent_mail_on_a_ticket(
        agent, f"{SERVER}; dmarc=fail header.from=caredesk.test"
    )
    assert forged.state == State.QUARANTINED
    retry(ledger().filter(pk=forged.pk), release=True)
    process_pending()
    forged.refresh_from_db()
    assert forged.outcome == Outcome.UNVERIFIED
    assert not first.ticket.messages.filter(author=agent).exists()


def test_an_agents_address_is_checked_whatever_else_it_is_on_the_ticket(agent):
    """Copied on the first mail (or even the ticket's requester), an agent's address
    still speaks as support only when proven."""
    first, forged = _agent_mail_on_a_ticket(agent, cc=agent.email)
    assert agent.email in first.ticket.cc
    assert forged.outcome == Outcome.UNVERIFIED
    assert not first.ticket.messages.filter(author=agent).exists()


def test_a_second_copy_of_an_unverified_mail_is_a_duplicate(agent):
    first = deliver(build())
    raw = build(sender=agent.email, subject=f"Re: [#{first.ticket.pk}] x")
    assert deliver(raw).outcome == Outcome.UNVERIFIED
    assert deliver(raw).outcome == Outcome.DUPLICATE
    assert first.ticket.messages.filter(kind=MessageKind.UNVERIFIED).count() == 1


def test_only_what_the_server_added_above_its_received_line_counts():
    """Headers as parse() lists them, top first, "" for a Received header. The server
    writes its Received line, then its filters add their results on top of it; results
    under its name below that line came with the message."""
    dkim = f"{SERVER}; dkim=pass header.d=acme.test"
    dmarc_fail = f"{SERVER}; dmarc=fail header.from=acme.test"
    forged = f"{SERVER}; dmarc=pass header.from=acme.test"
    assert verdict([dmarc_fail, "", forged], "alice@acme.test", SERVER) == FAIL
    # One header per filter (OpenDKIM, OpenDMARC): the run counts whole.
    assert verdict([dmarc_fail, dkim, ""], "alice@acme.test", SERVER) == PASS
    # A later hop inside (its own Received line, its own results) is skipped.
    inner = "mx2.desk.test; spf=none"
    assert verdict(["", inner, "", dkim, "", forged], "alice@acme.test", SERVER) == PASS


def test_parse_keeps_the_results_and_the_hops_in_order():
    raw = (
        b"Authentication-Results: mx.desk.test; dkim=pass\r\n"
        b"Received: from mta.acme.test by mx.desk.test\r\n"
        b"Authentication-Results: mx.desk.test; dmarc=pass\r\n" + build()
    )
    assert parse(raw).authentication_results == [
        "mx.desk.test; dkim=pass",
        "",
        "mx.desk.test; dmarc=pass",
    ]


def test_a_forged_agent_mail_is_no_proof_of_the_thread(agent):
    """Its Message-ID is not indexed: answering it does not make a stranger at the
    requester's domain a colleague of the thread."""
    first, forged = _agent_mail_on_a_ticket(agent)
    reply = deliver(build(sender="mallory@acme.test", in_reply_to=f"<{forged.message_id}>"))
    assert reply.ticket != first.ticket
    first.ticket.refresh_from_db()
    assert "mallory@acme.test" not in first.ticket.cc
