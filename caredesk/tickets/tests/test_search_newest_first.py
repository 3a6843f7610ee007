"""search.newest_first: the same matches as search(), newest first, a keyset page at a time."""

from caredesk.tickets import search
from caredesk.tickets.models import Ticket


def test_it_orders_matches_newest_first(alice, make_ticket):
    old = make_ticket(alice, subject="Printer jams")
    make_ticket(alice, subject="Something else")
    new = make_ticket(alice, subject="Printer offline")
    found = search.newest_first(Ticket.objects.all(), "printer")
    assert list(found) == [new, old]


def test_it_pages_with_a_cursor(alice, make_ticket):
    tickets = [make_ticket(alice, subject=f"Badge {i}") for i in range(5)]
    everything = Ticket.objects.all()
    first = list(search.newest_first(everything, "badge")[:2])
    assert first == tickets[:-3:-1]
    rest = list(search.newest_first(everything, "badge", before=first[-1].pk))
    assert rest == tickets[-3::-1]


def test_it_matches_what_search_matches(alice, bob, make_ticket):
    make_ticket(alice, subject="Shared words")
    mine = make_ticket(bob, subject="Shared words", actual="zanzibar build")
    theirs = Ticket.objects.filter(requester=bob)
    assert list(search.newest_first(theirs, "shared")) == [mine]
    assert list(search.newest_first(Ticket.objects.all(), "zanzib")) == [mine]
    assert not search.newest_first(Ticket.objects.all(), "!!!").exists()
    assert list(search.newest_first(Ticket.objects.all(), f"#{mine.pk}")) == [mine]
    # Other filters and select_related compose with it.
    filtered = search.newest_first(Ticket.objects.all(), "shared").filter(
        organization__kind=mine.organization.kind
    )
    assert list(filtered.select_related("requester", "assignee")) == [mine]


def test_a_superscript_digit_is_a_word_not_a_number(alice, make_ticket):
    assert not search.search(Ticket.objects.all(), "²").exists()
    assert not search.newest_first(Ticket.objects.all(), "²").exists()
