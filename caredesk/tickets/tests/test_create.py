import pytest

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel, EventKind, Status
from caredesk.tickets.models import Attachment, Ticket


def test_it_creates_a_new_unclaimed_ticket_with_first_message_and_event(ticket, alice):
    assert ticket.status == Status.NEW
    assert ticket.assignee is None
    assert ticket.organization == alice.organization
    message = ticket.messages.get()
    assert "Add a volunteer" in message.body and "req-7f3a" in message.body
    assert not message.internal
    assert list(ticket.events.values_list("kind", "to_value")) == [(EventKind.CREATED, Status.NEW)]


def test_it_stores_screenshot_with_hash(alice, make_ticket):
    ticket = make_ticket(alice, with_screenshot=True)
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.filename == "screenshot.png"
    assert attachment.size == len(png_upload().read())
    assert len(attachment.sha256) == 64


def test_it_refuses_oversized_upload_and_stores_nothing(alice, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(lifecycle.TransitionError, match="at most 10"):
        lifecycle.create_ticket(
            requester=alice, subject="Big", channel=Channel.PORTAL, uploads=[png_upload()]
        )
    assert not Ticket.objects.exists()


def test_it_refuses_empty_subject(alice):
    with pytest.raises(lifecycle.TransitionError, match="subject"):
        lifecycle.create_ticket(requester=alice, subject="  ", channel=Channel.PORTAL)
    assert not Ticket.objects.exists()


def test_a_subject_is_one_line_whatever_the_channel_sent(alice):
    """A line break in a subject would be refused in every mail header of the ticket
    (its acknowledgement and answers would never leave): it becomes a space, as every
    other control character and run of white space does."""
    ticket = lifecycle.create_ticket(
        requester=alice,
        subject="  Cannot\r\nBcc: x@evil.test\tadd\x00 a  volunteer \u2028",
        channel=Channel.PORTAL,
    )
    assert ticket.subject == "Cannot Bcc: x@evil.test add a volunteer"


def test_a_subject_of_white_space_and_controls_only_is_refused(alice):
    with pytest.raises(lifecycle.TransitionError, match="needs a subject"):
        lifecycle.create_ticket(requester=alice, subject="\r\n\t\x00 ", channel=Channel.PORTAL)
    assert not Ticket.objects.exists()
