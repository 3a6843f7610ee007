from caredesk.tickets import lifecycle, search
from caredesk.tickets.models import SearchDocument, Ticket


def test_it_finds_by_words_in_subject_fields_messages_and_email(alice, bob, agent, make_ticket):
    volunteer = make_ticket(alice, subject="Volunteer list empty")
    crash = make_ticket(bob, subject="App crashes", actual="Crash on photo upload")
    lifecycle.agent_reply(crash, agent, "Known issue with the Zanzibar build")
    everything = Ticket.objects.all()
    assert list(search.search(everything, "empty")) == [volunteer]
    assert list(search.search(everything, "photo upload")) == [crash]
    assert list(search.search(everything, "zanzib")) == [crash]  # prefix of the last word
    assert set(search.search(everything, "bob@bethel.test")) == {crash}
    assert not search.search(everything, "empty crash").exists()


def test_it_finds_by_number(alice, make_ticket):
    first = make_ticket(alice)
    make_ticket(alice)
    assert list(search.search(Ticket.objects.all(), f"#{first.pk}")) == [first]


def test_punctuation_and_quotes_do_not_break_the_query(alice, make_ticket):
    make_ticket(alice, subject='He said "hello" AND NOT (x)')
    found = search.search(Ticket.objects.all(), '"hello" AND NOT (x) *')
    assert found.count() == 1
    assert not search.search(Ticket.objects.all(), "!!!").exists()


def test_it_respects_the_given_queryset(alice, bob, make_ticket):
    make_ticket(alice, subject="Shared words")
    mine = make_ticket(bob, subject="Shared words")
    assert list(search.search(Ticket.objects.filter(requester=bob), "shared")) == [mine]


def test_a_ticket_is_indexed_once_with_its_first_messages_free_text(alice, make_ticket):
    guided = make_ticket(alice, subject="Rota export")
    document = SearchDocument.objects.get(ticket=guided).document
    # The first message only restates the guided fields (with headings): not indexed twice.
    assert document.count("Add a volunteer to my agency") == 1
    assert "What I was trying to do" not in document
    assert list(search.search(Ticket.objects.all(), "agency")) == [guided]
    written = make_ticket(alice, subject="Mail", body="Quarterly zebra report missing")
    assert "Quarterly zebra report missing" in SearchDocument.objects.get(ticket=written).document
    assert list(search.search(Ticket.objects.all(), "zebra")) == [written]


def test_a_number_in_full_width_digits_finds_its_ticket(agent, ticket):
    wide = "#" + "".join(chr(0xFF10 + int(d)) for d in str(ticket.pk))
    assert list(search.search(Ticket.objects.all(), wide)) == [ticket]
    assert list(search.search(Ticket.objects.all(), "#²")) == []
