"""Who sees what in the requester portal: the list, and 404 for every guessed number."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status
from caredesk.tickets.models import Message, Ticket


def _urls(number: int) -> dict[str, str]:
    return {
        "detail": reverse("portal:ticket", args=[number]),
        "reply": reverse("portal:reply", args=[number]),
        "solve": reverse("portal:solve", args=[number]),
    }


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("portal:tickets", "get"),
        ("portal:new", "get"),
        ("portal:new", "post"),
        ("portal:ticket", "get"),
        ("portal:reply", "post"),
        ("portal:solve", "post"),
    ],
)
def test_it_sends_anonymous_visitors_to_sign_in(client, ticket, name, method):
    args = [] if name in ("portal:tickets", "portal:new") else [ticket.number]
    url = reverse(name, args=args)
    response = getattr(client, method)(url, {"body": "hello"} if method == "post" else None)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert Message.objects.count() == 1  # nothing was written


def test_it_lists_alices_tickets_newest_first_and_not_bobs(client, alice, bob, make_ticket):
    first = make_ticket(alice, subject="Volunteer list is empty")
    second = make_ticket(alice, subject="Cannot print the roster")
    make_ticket(bob, subject="Bethel secret problem")
    client.force_login(alice)

    response = client.get(reverse("portal:tickets"))

    assert response.status_code == 200
    assert [t.pk for t in response.context["tickets"]] == [second.pk, first.pk]
    html = response.content.decode()
    assert html.index("Cannot print the roster") < html.index("Volunteer list is empty")
    assert "Bethel secret problem" not in html
    assert 'class="badge status-new"' in html
    assert reverse("portal:new") in html


def test_it_shows_an_empty_list_with_a_way_to_open_a_ticket(client, eve):
    client.force_login(eve)
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 200
    assert "You have no tickets yet" in response.content.decode()
    assert reverse("portal:new") in response.content.decode()


@pytest.mark.parametrize("outsider", ["bob", "eve"])
def test_it_answers_404_to_guessed_numbers(client, request, ticket, outsider):
    client.force_login(request.getfixturevalue(outsider))
    urls = _urls(ticket.number)

    assert client.get(urls["detail"]).status_code == 404
    assert client.post(urls["reply"], {"body": "let me in"}).status_code == 404
    assert client.post(urls["solve"]).status_code == 404

    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert ticket.messages.count() == 1
    assert Ticket.objects.count() == 1


def test_it_answers_404_for_a_number_that_does_not_exist(client, alice):
    client.force_login(alice)
    assert client.get(reverse("portal:ticket", args=[999999])).status_code == 404


def test_carol_sees_alices_ticket_only_when_acme_shares(client, carol, ticket, acme):
    client.force_login(carol)
    urls = _urls(ticket.number)

    assert client.get(urls["detail"]).status_code == 404
    assert list(client.get(reverse("portal:tickets")).context["tickets"]) == []

    acme.shared_tickets = True
    acme.save()

    response = client.get(urls["detail"])
    assert response.status_code == 200
    assert "Alice" in response.content.decode()  # the requester is named on a shared ticket
    listed = client.get(reverse("portal:tickets"))
    assert [t.pk for t in listed.context["tickets"]] == [ticket.pk]
    assert "from Alice" in listed.content.decode()


def test_bob_does_not_see_acme_tickets_even_when_acme_shares(client, bob, ticket, acme):
    acme.shared_tickets = True
    acme.save()
    client.force_login(bob)
    assert client.get(reverse("portal:ticket", args=[ticket.number])).status_code == 404
    assert list(client.get(reverse("portal:tickets")).context["tickets"]) == []


def test_an_agent_sees_only_their_own_requests_in_the_portal(client, agent, ticket, make_ticket):
    own = make_ticket(agent, subject="My laptop is broken")
    client.force_login(agent)

    listed = client.get(reverse("portal:tickets"))
    assert [t.pk for t in listed.context["tickets"]] == [own.pk]
    # Other people's tickets are worked in the agent workspace, not here.
    assert client.get(reverse("portal:ticket", args=[ticket.number])).status_code == 404
    assert client.get(reverse("portal:ticket", args=[own.number])).status_code == 200


def test_it_pages_by_ticket_number(client, alice, make_ticket, monkeypatch):
    from caredesk.tickets.views import portal

    monkeypatch.setattr(portal, "PAGE_SIZE", 2)
    numbers = [make_ticket(alice, subject=f"Problem {i}").pk for i in range(5)]
    newest_first = numbers[::-1]
    client.force_login(alice)

    page1 = client.get(reverse("portal:tickets"))
    assert [t.pk for t in page1.context["tickets"]] == newest_first[:2]
    assert page1.context["newer"] is None
    older = page1.context["older"]
    assert f"?before={older}" in page1.content.decode()

    page2 = client.get(reverse("portal:tickets"), {"before": older})
    assert [t.pk for t in page2.context["tickets"]] == newest_first[2:4]

    page3 = client.get(reverse("portal:tickets"), {"before": page2.context["older"]})
    assert [t.pk for t in page3.context["tickets"]] == newest_first[4:]
    assert page3.context["older"] is None

    back = client.get(reverse("portal:tickets"), {"after": page3.context["newer"]})
    assert [t.pk for t in back.context["tickets"]] == newest_first[2:4]

    garbage = client.get(reverse("portal:tickets"), {"before": "x'; drop"})
    assert [t.pk for t in garbage.context["tickets"]] == newest_first[:2]


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style attributes, hx-on."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._script_without_src = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if "style" in names or tag == "style":
            self.problems.append(f"inline style on <{tag}>")
        if any(name.startswith(("hx-on", "on")) for name in names):
            self.problems.append(f"inline handler on <{tag}>")
        self._script_without_src = tag == "script" and "src" not in names

    def handle_data(self, data):
        if self._script_without_src and data.strip():
            self.problems.append("inline <script>")

    def handle_endtag(self, tag):
        self._script_without_src = False


def test_portal_pages_need_nothing_the_csp_forbids(client, alice, ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Could you send a screenshot?")
    client.force_login(alice)
    for url in (
        reverse("portal:tickets"),
        reverse("portal:new"),
        reverse("portal:ticket", args=[ticket.number]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in csp and "style-src 'self'" in csp
        parser = _InlineCode()
        parser.feed(response.content.decode())
        assert parser.problems == [], url
        assert "caredesk/portal.css" in response.content.decode()
