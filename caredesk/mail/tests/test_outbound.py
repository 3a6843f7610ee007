import pytest
from django.utils import timezone

from caredesk.mail import addresses, intake, outbound, processing
from caredesk.mail.models import PendingAcknowledgement, ThreadIndex
from caredesk.mail.outbound import compose_acknowledgements
from caredesk.mail.processing import process_pending
from caredesk.outbox.models import OutboundEmail
from caredesk.outbox.services import deliver_due
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status

from .factories import build, deliver

pytestmark = pytest.mark.django_db


def test_agent_reply_is_emailed_with_threading_headers(agent, mailoutbox):
    inbound = deliver(build(cc="carol@acme.test"))
    ticket = inbound.ticket
    message = lifecycle.agent_reply(ticket, agent, "Please try again now.")
    lifecycle.agent_reply(ticket, agent, "secret internal note", internal=True)
    reply = OutboundEmail.objects.get(subject__startswith="Re:")
    message.refresh_from_db()
    assert reply.headers["Message-ID"] == f"<{message.message_id}>"
    assert reply.headers["In-Reply-To"] == f"<{inbound.message_id}>"
    assert f"<{inbound.message_id}>" in reply.headers["References"]
    assert reply.headers["Reply-To"] == addresses.reply_address(ticket.pk)
    assert f"[#{ticket.pk}]" in reply.subject
    assert reply.to == ["alice@acme.test"] and reply.cc == ["carol@acme.test"]
    assert ThreadIndex.objects.filter(message_id=message.message_id, outbound=True).exists()
    assert deliver_due() == 2  # acknowledgement + reply; the note never leaves
    bodies = [m.body for m in mailoutbox]
    assert any("Please try again now." in b for b in bodies)
    assert not any("secret internal note" in b for b in bodies)
    sent = mailoutbox[-1]
    assert sent.extra_headers["Message-ID"] == reply.headers["Message-ID"]


def test_portal_ticket_is_acknowledged_too(alice, make_ticket):
    ticket = make_ticket(alice)
    assert not OutboundEmail.objects.exists()  # written by the worker, after the mail
    assert process_pending() == 0  # no mail waiting: the acknowledgements are next
    ack = OutboundEmail.objects.get()
    assert ack.to == [alice.email] and f"#{ticket.pk}" in ack.body
    assert not PendingAcknowledgement.objects.exists()


def test_while_mail_waits_acknowledgements_are_written_a_few_at_a_time(
    alice, make_ticket, monkeypatch
):
    monkeypatch.setattr(processing, "ACKNOWLEDGEMENTS_WHILE_BUSY", 1)
    portal = make_ticket(alice)
    intake.receive(build(subject="First"), transport="smtp")
    intake.receive(build(subject="Second"), transport="smtp")
    assert process_pending(limit=1) == 1  # stopped with mail still waiting
    assert [email.ref for email in OutboundEmail.objects.all()] == [f"ticket:{portal.pk}"]
    assert process_pending() == 1  # the queue is empty now: all of them
    assert OutboundEmail.objects.count() == 3  # the portal ticket's and the two mails'
    assert not PendingAcknowledgement.objects.exists()


def test_two_composers_at_once_write_each_acknowledgement_once(
    alice, bob, make_ticket, monkeypatch
):
    """A composer that outlived its lease and one that took over read the same pending
    rows; each row is claimed by deleting it, so what one wrote the other skips."""
    first, second = make_ticket(alice), make_ticket(bob)
    real = outbound._acknowledge

    def and_meanwhile_another(ticket, in_reply_to):
        monkeypatch.setattr(outbound, "_acknowledge", real)
        compose_acknowledgements()  # takes over: writes the second ticket's
        real(ticket, in_reply_to)

    monkeypatch.setattr(outbound, "_acknowledge", and_meanwhile_another)
    compose_acknowledgements()  # then finds the second one claimed already
    refs = sorted(OutboundEmail.objects.values_list("ref", flat=True))
    assert refs == sorted([f"ticket:{first.pk}", f"ticket:{second.pk}"])


def test_a_failing_acknowledgement_is_kept_and_stops_no_other(alice, bob, make_ticket, monkeypatch):
    broken, fine = make_ticket(alice), make_ticket(bob)
    real = outbound._acknowledge

    def failing_for_alice(ticket, in_reply_to):
        if ticket == broken:
            raise RuntimeError("template missing")
        real(ticket, in_reply_to)

    monkeypatch.setattr(outbound, "_acknowledge", failing_for_alice)
    compose_acknowledgements()
    assert [e.ref for e in OutboundEmail.objects.all()] == [f"ticket:{fine.pk}"]
    assert list(PendingAcknowledgement.objects.values_list("ticket", flat=True)) == [broken.pk]


def test_no_acknowledgement_for_a_ticket_closed_before_it_was_written(alice, agent, make_ticket):
    ticket = make_ticket(alice)
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)  # spam, closed at once
    assert compose_acknowledgements() == 1
    assert not OutboundEmail.objects.exists()
    assert not PendingAcknowledgement.objects.exists()


def test_an_acknowledgement_is_written_once_even_if_composed_again(alice, make_ticket):
    make_ticket(alice)
    assert compose_acknowledgements() == 1
    assert compose_acknowledgements() == 0
    assert OutboundEmail.objects.count() == 1


def test_reply_address_is_signed():
    address = addresses.reply_address(1234)
    assert addresses.ticket_number_from(address) == 1234
    forged = address.replace("t1234.", "t1235.")
    assert addresses.ticket_number_from(forged) is None
    assert not addresses.is_ours(forged)
    assert addresses.is_ours("Support@Demo.Caredesk.Test")


def test_failing_acknowledgements_are_tried_later_then_given_up_never_spun_on(
    alice, bob, make_ticket, monkeypatch, caplog
):
    """A broken template after a deploy: every acknowledgement fails. The worker does not
    spin on them (nor block the mail behind them); each is tried again later, and given up
    after ACKNOWLEDGEMENT_ATTEMPTS with an error in the log."""
    monkeypatch.setattr(processing, "ACKNOWLEDGEMENTS", 2)
    tickets = [make_ticket(alice), make_ticket(bob), make_ticket(alice)]

    def broken(ticket, in_reply_to):
        raise RuntimeError("template missing")

    monkeypatch.setattr(outbound, "_acknowledge", broken)
    assert process_pending() == 0  # returns: it does not loop over the failing ones
    pending = PendingAcknowledgement.objects.order_by("ticket")
    assert [row.attempts for row in pending.all()] == [1, 1, 0]
    assert process_pending() == 0  # the next pass: the failed ones wait, the third is tried
    assert [row.attempts for row in pending.all()] == [1, 1, 1]
    assert not processing.has_pending()  # not due again yet
    assert not OutboundEmail.objects.exists()

    pending.update(attempts=outbound.ACKNOWLEDGEMENT_ATTEMPTS - 1, due_at=timezone.now())
    assert outbound.compose_acknowledgements() == 0
    assert not PendingAcknowledgement.objects.exists()
    assert caplog.text.count("given up") == len(tickets)
