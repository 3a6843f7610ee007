import pytest

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Category, EventKind, Priority, Status


@pytest.mark.parametrize("category", [Category.QUESTION, Category.FEEDBACK, Category.BUG])
def test_it_records_the_category_as_an_event(ticket, agent, category):
    lifecycle.categorize(ticket, category, by=agent)
    ticket.refresh_from_db()
    assert ticket.category == category
    event = ticket.events.get(kind=EventKind.CATEGORIZED)
    assert (event.actor, event.from_value, event.to_value) == (
        agent,
        Category.UNCATEGORIZED,
        category,
    )


def test_same_category_writes_no_event(ticket, agent):
    lifecycle.categorize(ticket, Category.BUG, by=agent)
    lifecycle.categorize(ticket, Category.BUG, by=agent)
    assert ticket.events.filter(kind=EventKind.CATEGORIZED).count() == 1


def test_unknown_category_is_refused(ticket, agent):
    with pytest.raises(lifecycle.TransitionError, match="Unknown category"):
        lifecycle.categorize(ticket, "complaint", by=agent)
    ticket.refresh_from_db()
    assert ticket.category == Category.UNCATEGORIZED


def test_requester_cannot_categorize(ticket, alice):
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.categorize(ticket, Category.BUG, by=alice)


def test_closed_ticket_cannot_be_categorized(ticket, agent):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    with pytest.raises(lifecycle.TransitionError, match="closed"):
        lifecycle.categorize(ticket, Category.BUG, by=agent)


def test_priority_change_is_recorded(ticket, agent):
    lifecycle.set_priority(ticket, Priority.URGENT, by=agent)
    ticket.refresh_from_db()
    assert ticket.priority == Priority.URGENT
    assert ticket.events.filter(
        kind=EventKind.PRIORITY, from_value=Priority.NORMAL, to_value=Priority.URGENT
    ).exists()
    with pytest.raises(lifecycle.TransitionError, match="Unknown priority"):
        lifecycle.set_priority(ticket, "whenever", by=agent)
