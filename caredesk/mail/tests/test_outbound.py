import pytest

from caredesk.mail import addresses, intake
from caredesk.mail.models import PendingAcknowledgement, ThreadIndex
from caredesk.mail.outbound import compose_acknowledgements
from caredesk.mail.processing import process_pending
from caredesk.outbox.models import OutboundEmail
from caredesk.outbox.services import deliver_due
from caredesk.tickets import lifecycle

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


def test_acknowledgements_wait_until_the_mail_waiting_is_processed(alice, make_ticket):
    make_ticket(alice)
    intake.receive(build(subject="First"), transport="smtp")
    intake.receive(build(subject="Second"), transport="smtp")
    assert process_pending(limit=1) == 1  # stopped with mail still waiting
    assert not OutboundEmail.objects.exists()
    assert process_pending() == 1
    assert OutboundEmail.objects.count() == 3  # the portal ticket's and the two mails'


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
