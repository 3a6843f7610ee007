import pytest
from django.core.management import call_command

from caredesk.mail import intake
from caredesk.mail.choices import Outcome, Transport
from caredesk.outbox.models import DeliveryStatus, OutboundEmail

from .factories import build, stored

pytestmark = pytest.mark.django_db


def test_the_worker_processes_stored_mail_and_sends_the_acknowledgement(mailoutbox):
    inbound = stored(intake.receive(build(), transport=Transport.SMTP))
    call_command("worker", "--batch")
    inbound.refresh_from_db()
    assert inbound.outcome == Outcome.NEW_TICKET
    assert OutboundEmail.objects.get().status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1 and f"[#{inbound.ticket_id}]" in mailoutbox[0].subject


def test_a_batch_run_writes_and_sends_the_acknowledgements_of_new_tickets(alice, make_ticket):
    ticket = make_ticket(alice)  # from the portal: no mail to process, one to write
    call_command("worker", "--batch")
    email = OutboundEmail.objects.get()
    assert email.ref == f"ticket:{ticket.pk}" and email.status == DeliveryStatus.SENT
