import pytest

from caredesk.mail import addresses
from caredesk.mail.models import ThreadIndex
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
    ack = OutboundEmail.objects.get()
    assert ack.to == [alice.email] and f"#{ticket.pk}" in ack.body


def test_reply_address_is_signed():
    address = addresses.reply_address(1234)
    assert addresses.ticket_number_from(address) == 1234
    forged = address.replace("t1234.", "t1235.")
    assert addresses.ticket_number_from(forged) is None
    assert not addresses.is_ours(forged)
    assert addresses.is_ours("Support@Demo.Caredesk.Test")
