"""The queue page: membership and order of each queue, filters, search, keyset pages."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from caredesk.tickets import lifecycle, queues
from caredesk.tickets.choices import Channel, Status
from caredesk.tickets.models import Ticket

QUEUE_URL = "/agent/"


@pytest.fixture
def board(alice, bob, agent, agent2, make_ticket):
    """One or two tickets in every state, created in a shuffled order of states."""

    def claimed(by, status=None, requester=alice, **kw):
        t = make_ticket(requester, **kw)
        lifecycle.claim(t, by)
        if status:
            lifecycle.change_status(t, status, by=by)
        return t.pk

    b = {}
    b["new1"] = make_ticket(alice, "First new").pk
    b["mine_open"] = claimed(agent)
    b["other_open"] = claimed(agent2)
    b["mine_pending"] = claimed(agent, Status.PENDING)
    b["new2"] = make_ticket(bob, "Second new", channel=Channel.EMAIL).pk
    b["mine_hold"] = claimed(agent, Status.ON_HOLD)
    b["other_pending"] = claimed(agent2, Status.PENDING)
    b["solved_old"] = claimed(agent, Status.SOLVED)
    b["solved_new"] = claimed(agent2, Status.SOLVED)
    b["closed"] = claimed(agent, Status.SOLVED)
    lifecycle.change_status(Ticket.objects.get(pk=b["closed"]), Status.CLOSED, by=agent)
    b["mine_open2"] = claimed(agent)
    now = timezone.now()
    Ticket.objects.filter(pk=b["solved_old"]).update(solved_at=now - timedelta(days=2))
    Ticket.objects.filter(pk=b["solved_new"]).update(solved_at=now - timedelta(hours=1))
    return b


def ids(response) -> list[int]:
    return [t.pk for t in response.context["page"].tickets]


def next_link(response) -> str | None:
    match = re.search(r'href="([^"]*)" rel="next"', response.content.decode())
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        ("unclaimed", ["new1", "new2"]),
        ("mine", ["mine_open", "mine_pending", "mine_hold", "mine_open2"]),
        ("open", ["mine_open", "other_open", "mine_open2"]),
        ("pending", ["mine_pending", "other_pending"]),
        ("on_hold", ["mine_hold"]),
        ("solved", ["solved_new", "solved_old"]),  # solved recently: latest first
    ],
)
def test_it_lists_each_queue_in_its_order(agent_client, board, queue, expected):
    response = agent_client.get(QUEUE_URL, {"queue": queue})
    assert response.status_code == 200
    assert ids(response) == [board[k] for k in expected]


def test_unclaimed_is_the_default_queue_oldest_first(agent_client, board):
    response = agent_client.get(QUEUE_URL)
    assert ids(response) == [board["new1"], board["new2"]]
    page = response.content.decode()
    assert 'aria-current="page">Unclaimed' in page
    assert "First new" in page and "Second new" in page
    assert reverse("agent:claim", args=[board["new1"]]) in page


def test_mine_is_per_agent(client, agent2, board):
    client.force_login(agent2)
    response = client.get(QUEUE_URL, {"queue": "mine"})
    assert ids(response) == [board["other_open"], board["other_pending"]]


def test_it_shows_queue_sizes(agent_client, board):
    response = agent_client.get(QUEUE_URL)
    assert dict((q.slug, size) for q, size, _ in response.context["tabs"]) == {
        "unclaimed": "2",
        "mine": "4",
        "open": "3",
        "pending": "2",
        "on_hold": "1",
        "solved": "2",
    }


def test_it_caps_queue_sizes(agent_client, board, monkeypatch):
    monkeypatch.setattr(queues, "COUNT_CAP", 3)
    response = agent_client.get(QUEUE_URL)
    sizes = dict((q.slug, size) for q, size, _ in response.context["tabs"])
    assert sizes["mine"] == "2+" and sizes["open"] == "2+" and sizes["unclaimed"] == "2"


def test_it_filters_by_category(agent_client, agent, board):
    bug = Ticket.objects.get(pk=board["mine_open2"])
    lifecycle.categorize(bug, "bug", by=agent)
    response = agent_client.get(QUEUE_URL, {"queue": "open", "category": "bug"})
    assert ids(response) == [bug.pk]


def test_it_filters_by_channel(agent_client, board):
    response = agent_client.get(QUEUE_URL, {"queue": "unclaimed", "channel": "email"})
    assert ids(response) == [board["new2"]]


def test_it_filters_by_organization_kind(agent_client, board):
    response = agent_client.get(QUEUE_URL, {"queue": "unclaimed", "org_kind": "church"})
    assert ids(response) == [board["new2"]]  # bob's Bethel Church
    response = agent_client.get(QUEUE_URL, {"queue": "unclaimed", "org_kind": "network"})
    assert ids(response) == [board["new1"]]  # alice's Acme Network
    response = agent_client.get(QUEUE_URL, {"queue": "unclaimed", "org_kind": "agency"})
    assert ids(response) == []
    assert "No tickets in this queue." in response.content.decode()


def test_it_ignores_unknown_parameter_values(agent_client, board):
    response = agent_client.get(
        QUEUE_URL, {"queue": "nonsense", "category": "x", "after": "abc", "org_kind": "y"}
    )
    assert response.status_code == 200
    assert ids(response) == [board["new1"], board["new2"]]


def test_it_keeps_filters_when_switching_queues(agent_client, board):
    page = agent_client.get(QUEUE_URL, {"queue": "open", "channel": "email"}).content.decode()
    assert 'href="/agent/?queue=mine&amp;channel=email"' in page


# ---------------------------------------------------------------- search


def test_it_finds_a_ticket_by_number_in_any_status(agent_client, board):
    closed = board["closed"]
    response = agent_client.get(QUEUE_URL, {"q": f"#{closed}"})
    assert ids(response) == [closed]
    response = agent_client.get(QUEUE_URL, {"q": str(board["new1"]), "queue": "solved"})
    assert ids(response) == [board["new1"]]


def test_it_searches_words_across_all_statuses_newest_first(
    agent_client, agent, alice, make_ticket
):
    old = make_ticket(alice, "The printer is on fire")
    other = make_ticket(alice, "Nothing to see")
    new = make_ticket(alice, "Printer again")
    lifecycle.change_status(old, Status.SOLVED, by=agent)
    response = agent_client.get(QUEUE_URL, {"q": "printer", "queue": "unclaimed"})
    assert ids(response) == [new.pk, old.pk]
    assert other.pk not in ids(response)
    assert "Search results for" in response.content.decode()


def test_it_searches_message_text(agent_client, agent, ticket, make_ticket, alice):
    make_ticket(alice, "Unrelated")
    lifecycle.agent_reply(ticket, agent, "Try clearing the zeppelin cache", internal=True)
    response = agent_client.get(QUEUE_URL, {"q": "zeppelin"})
    assert ids(response) == [ticket.pk]


def test_it_says_when_nothing_matches(agent_client, ticket):
    response = agent_client.get(QUEUE_URL, {"q": "xylophone"})
    assert ids(response) == []
    assert "No ticket matches" in response.content.decode()


# ---------------------------------------------------------------- pages


def _new_tickets(make_ticket, requester, n, subject="Ticket"):
    return [make_ticket(requester, f"{subject} {i}").pk for i in range(n)]


def flat(pages: list[list[int]]) -> list[int]:
    return [pk for page in pages for pk in page]


def _walk(client, params) -> list[list[int]]:
    """Follow "Next page" links to the end; the pages' ticket numbers."""
    pages = []
    response = client.get(QUEUE_URL, params)
    while True:
        pages.append(ids(response))
        link = next_link(response)
        if link is None:
            return pages
        response = client.get(link)


def test_it_pages_by_key_without_repeats(agent_client, alice, make_ticket):
    created = _new_tickets(make_ticket, alice, queues.PAGE_SIZE + 5)
    pages = _walk(agent_client, {"queue": "unclaimed"})
    assert [len(p) for p in pages] == [queues.PAGE_SIZE, 5]
    assert flat(pages) == created


def test_a_page_is_stable_when_earlier_tickets_are_claimed(
    agent_client, agent2, alice, make_ticket
):
    created = _new_tickets(make_ticket, alice, queues.PAGE_SIZE + 5)
    first = agent_client.get(QUEUE_URL)
    link = next_link(first)
    for pk in created[:10]:  # claimed meanwhile: they leave the queue
        lifecycle.claim(Ticket.objects.get(pk=pk), agent2)
    second = agent_client.get(link)
    assert ids(second) == created[queues.PAGE_SIZE :]  # no skipped, no repeated rows
    assert "First page" in second.content.decode()


def test_it_pages_solved_tickets_by_solve_time_with_ties(agent_client, agent, alice, make_ticket):
    created = _new_tickets(make_ticket, alice, queues.PAGE_SIZE + 7)  # an even count
    base = timezone.now() - timedelta(days=1)
    for i, pk in enumerate(created):
        lifecycle.change_status(Ticket.objects.get(pk=pk), Status.SOLVED, by=agent)
        # Pairs solved at the same instant, so the cursor must break ties by number.
        Ticket.objects.filter(pk=pk).update(solved_at=base + timedelta(minutes=i // 2))
    pages = _walk(agent_client, {"queue": "solved"})
    expected = sorted(
        Ticket.objects.filter(pk__in=created).values_list("solved_at", "pk"), reverse=True
    )
    assert [len(p) for p in pages] == [queues.PAGE_SIZE, 7]
    assert flat(pages) == [pk for _, pk in expected]
    # The page boundary splits a pair solved at the same instant.
    last, first = expected[queues.PAGE_SIZE - 1], expected[queues.PAGE_SIZE]
    assert last[0] == first[0]


def test_it_pages_search_results_newest_first(agent_client, alice, make_ticket):
    created = _new_tickets(make_ticket, alice, queues.PAGE_SIZE + 3, subject="Volcano")
    make_ticket(alice, "Something else")
    pages = _walk(agent_client, {"q": "volcano"})
    assert flat(pages) == created[::-1]
    assert [len(p) for p in pages] == [queues.PAGE_SIZE, 3]


def test_it_pages_a_filtered_queue(agent_client, alice, bob, make_ticket):
    church = []
    for i in range(queues.PAGE_SIZE + 2):
        make_ticket(alice, f"Network {i}")
        church.append(make_ticket(bob, f"Church {i}").pk)
    pages = _walk(agent_client, {"queue": "unclaimed", "org_kind": "church"})
    assert flat(pages) == church


def test_a_rare_filter_value_is_looked_for_a_window_at_a_time(
    agent_client, alice, bob, make_ticket, monkeypatch
):
    monkeypatch.setattr(queues, "SCAN_LIMIT", 4)
    created = [make_ticket(bob if i in (1, 9, 10) else alice, f"T{i}").pk for i in range(12)]
    pages = _walk(agent_client, {"queue": "unclaimed", "org_kind": "church"})
    # windows of four queue rows: [0-3] -> #1, [4-7] -> none, [8-11] -> #9 #10, then done
    assert pages == [[created[1]], [], [created[9], created[10]]]
    first = agent_client.get(QUEUE_URL, {"queue": "unclaimed", "org_kind": "church"})
    assert "among the next 4 tickets of this queue" in first.content.decode()
    second = agent_client.get(next_link(first))
    assert "Nothing matches these filters among the next 4 tickets" in second.content.decode()


def test_the_scan_window_also_bounds_solved_pages(
    agent_client, agent, alice, bob, make_ticket, monkeypatch
):
    monkeypatch.setattr(queues, "SCAN_LIMIT", 3)
    base = timezone.now() - timedelta(days=1)
    created = []
    for i in range(8):
        t = make_ticket(bob if i % 4 == 0 else alice)
        lifecycle.change_status(t, Status.SOLVED, by=agent)
        Ticket.objects.filter(pk=t.pk).update(solved_at=base + timedelta(minutes=i // 2))
        created.append(t.pk)
    pages = _walk(agent_client, {"queue": "solved", "org_kind": "church"})
    assert flat(pages) == [created[4], created[0]]  # bob's, latest solved first


def test_the_last_page_has_no_next_link(agent_client, alice, make_ticket):
    _new_tickets(make_ticket, alice, queues.PAGE_SIZE)
    response = agent_client.get(QUEUE_URL)
    assert len(ids(response)) == queues.PAGE_SIZE
    assert next_link(response) is None


# ---------------------------------------------------------------- cost


@pytest.mark.parametrize(
    ("params", "page_queries"),
    [
        ({}, 1),
        ({"queue": "mine"}, 4),  # one id range per status, then the page's rows
        ({"queue": "solved", "after": "99999999999999999_1"}, 1),
        ({"q": "volunteer"}, 1),
        ({"q": "#{number}"}, 2),  # does the ticket exist? then it
        ({"queue": "open", "category": "uncategorized", "org_kind": "network"}, 2),  # window
    ],
)
def test_the_queue_page_costs_a_fixed_number_of_queries(
    agent_client,
    agent,
    alice,
    bob,
    make_ticket,
    django_assert_max_num_queries,
    params,
    page_queries,
):
    for i in range(queues.PAGE_SIZE + 5):
        t = make_ticket(alice if i % 2 else bob, f"Cannot add a volunteer {i}")
        if i % 3 == 0:
            lifecycle.claim(t, agent)
        if i % 6 == 0:
            lifecycle.change_status(t, Status.SOLVED, by=agent)
    # Numbers are not reset between tests on PostgreSQL: search for one that exists.
    params = {key: value.format(number=t.pk) for key, value in params.items()}
    # session, user, the capped queue sizes (one statement), then the page's own
    with django_assert_max_num_queries(3 + page_queries):
        response = agent_client.get(QUEUE_URL, params)
    assert response.context["page"].tickets


def test_htmx_navigation_gets_only_the_workspace_fragment(agent_client, board):
    response = agent_client.get(
        QUEUE_URL,
        {"queue": "open"},
        headers={"HX-Request": "true", "HX-Boosted": "true", "HX-Target": "workspace"},
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="workspace"')
    assert "<html" not in page
    assert ids(response) == [board["mine_open"], board["other_open"], board["mine_open2"]]
    assert "HX-Request" in response["Vary"]


def test_htmx_navigation_pushes_a_clean_url(agent_client, board):
    params = {"queue": "open", "q": "", "category": "", "channel": "email", "org_kind": ""}
    headers = {"HX-Request": "true", "HX-Boosted": "true", "HX-Target": "workspace"}
    response = agent_client.get(QUEUE_URL, params, headers=headers)
    assert response["HX-Push-Url"] == "/agent/?queue=open&channel=email"


@pytest.mark.parametrize(
    ("queue", "after"), [("unclaimed", "²"), ("solved", "1_²"), ("open", "9" * 30)]
)
def test_a_forged_after_starts_the_queue_from_the_top(agent_client, board, queue, after):
    """ "²" passes str.isdigit() and fails int(); 30 digits overflow the database."""
    response = agent_client.get(QUEUE_URL, {"queue": queue, "after": after})
    assert response.status_code == 200
    assert ids(response) == ids(agent_client.get(QUEUE_URL, {"queue": queue}))
