import pytest

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, MessageKind, Status
from caredesk.tickets.models import Ticket


def test_public_reply_stamps_first_response_and_claims(ticket, agent):
    message = lifecycle.agent_reply(ticket, agent, "Which browser do you use?")
    ticket.refresh_from_db()
    assert not message.internal and message.kind == MessageKind.REPLY
    assert ticket.first_response_at == message.created_at
    assert ticket.assignee == agent and ticket.status == Status.OPEN
    assert ticket.events.filter(kind=EventKind.REPLIED, actor=agent).exists()


def test_first_response_is_not_moved_by_later_replies(ticket, agent):
    first = lifecycle.agent_reply(ticket, agent, "One")
    lifecycle.agent_reply(ticket, agent, "Two")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first.created_at


def test_internal_note_is_not_a_response(ticket, agent):
    note = lifecycle.agent_reply(ticket, agent, "Looks like the 4.2 upload bug", internal=True)
    ticket.refresh_from_db()
    assert note.internal and note.kind == MessageKind.NOTE
    assert ticket.first_response_at is None
    assert ticket.assignee is None and ticket.status == Status.NEW
    assert ticket.events.filter(kind=EventKind.NOTED).exists()


def test_reply_and_set_pending(ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Please send the Request ID", status=Status.PENDING)
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING


def test_reply_with_refused_status_changes_nothing(ticket, agent):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.agent_reply(ticket, agent, "hello", status=Status.PENDING)
    assert ticket.messages.count() == 1


def test_empty_reply_is_refused(ticket, agent, alice):
    with pytest.raises(lifecycle.TransitionError, match="empty"):
        lifecycle.agent_reply(ticket, agent, "   ")
    with pytest.raises(lifecycle.TransitionError, match="empty"):
        lifecycle.requester_reply(ticket, alice, "")
    assert ticket.messages.count() == 1


@pytest.mark.parametrize("start", [Status.PENDING, Status.SOLVED])
def test_requester_reply_reopens(ticket, agent, alice, start):
    lifecycle.change_status(ticket, start, by=agent)
    lifecycle.requester_reply(ticket, alice, "Here is the screenshot", uploads=[png_upload()])
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.attachments.count() == 1


def test_requester_reply_to_unclaimed_solved_ticket_returns_it_to_the_queue(ticket, alice):
    lifecycle.mark_solved_by_requester(ticket, alice)
    lifecycle.requester_reply(ticket, alice, "Actually it is broken again")
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_requester_reply_on_hold_stays_on_hold(ticket, agent, alice):
    lifecycle.change_status(ticket, Status.ON_HOLD, by=agent)
    lifecycle.requester_reply(ticket, alice, "Any news?")
    ticket.refresh_from_db()
    assert ticket.status == Status.ON_HOLD


def test_reply_to_closed_ticket_starts_linked_follow_up(ticket, agent, alice):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    message = lifecycle.requester_reply(ticket, alice, "It happened again")
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk
    assert follow_up.follow_up_of == ticket
    assert follow_up.status == Status.NEW
    assert follow_up.subject == f"Re: {ticket.subject}"
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.messages.count() == 1
    assert ticket.events.filter(kind=EventKind.FOLLOW_UP, to_value=str(follow_up.pk)).exists()
    assert Ticket.objects.count() == 2


def test_agent_cannot_reply_on_closed_ticket(ticket, agent):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    with pytest.raises(lifecycle.TransitionError, match="closed"):
        lifecycle.agent_reply(ticket, agent, "late")


def test_requester_cannot_post_as_agent(ticket, alice):
    with pytest.raises(lifecycle.TransitionError, match="Only support agents"):
        lifecycle.agent_reply(ticket, alice, "I am support now", internal=True)


def test_copying_someone_in_records_it_on_the_timeline(ticket, agent):
    lifecycle.copy_person(ticket, "  Carol@Acme.test ", by=agent, reason="asked to be copied")
    lifecycle.copy_person(ticket, "carol@acme.test", by=agent, reason="again")  # no-op
    ticket.refresh_from_db()
    assert ticket.cc == ["carol@acme.test"]
    event = ticket.events.get(kind=EventKind.COPIED)
    assert (event.to_value, event.data) == ("carol@acme.test", {"reason": "asked to be copied"})


def test_a_value_longer_than_the_timeline_column_is_kept_whole_in_the_event(ticket, agent):
    """A 254-character address (the longest a mail address may be) did not fit the
    250-character column: on PostgreSQL the reply that copied it in failed."""
    address = f"{'x' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 56}.test"
    assert len(address) == 254
    lifecycle.copy_person(ticket, address, by=agent, reason="colleague")
    event = ticket.events.get(kind=EventKind.COPIED)
    assert len(event.to_value) == 250 and event.to_value.endswith("…")
    assert address.startswith(event.to_value[:-1])
    assert event.data["to_value"] == address


def test_a_reply_whose_status_was_overtaken_changes_nothing(ticket, agent, agent2):
    lifecycle.claim(ticket, agent)
    seen = Ticket.objects.get(pk=ticket.pk)  # open
    lifecycle.change_status(Ticket.objects.get(pk=ticket.pk), Status.SOLVED, by=agent2)
    with pytest.raises(lifecycle.TransitionError, match="changed meanwhile: it is solved now"):
        lifecycle.agent_reply(seen, agent, "Could you send a screenshot?", status=Status.ON_HOLD)
    assert ticket.messages.count() == 1  # the reply is not kept without its status
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


@pytest.mark.parametrize("internal", [False, True])
def test_a_reply_cannot_set_new(ticket, agent, internal):
    with pytest.raises(lifecycle.TransitionError, match="reassignment"):
        lifecycle.agent_reply(ticket, agent, "Back you go", internal=internal, status=Status.NEW)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee, ticket.messages.count()) == (Status.NEW, None, 1)


def test_a_note_that_sets_a_status_claims_the_ticket_as_a_status_change_does(ticket, agent):
    lifecycle.agent_reply(
        ticket, agent, "Known bug, waiting on the fix", internal=True, status=Status.ON_HOLD
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.ON_HOLD, agent)
    assert ticket.first_response_at is None  # a note is still no response
