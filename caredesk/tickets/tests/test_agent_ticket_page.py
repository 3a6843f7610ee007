"""What the ticket page shows an agent, and what it costs."""

import re

import pytest
from django.urls import reverse

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Status
from caredesk.tickets.models import Attachment


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def page_of(client, ticket) -> str:
    response = client.get(reverse("agent:ticket", args=[ticket.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_guided_fields(agent_client, ticket):
    page = page_of(agent_client, ticket)
    for text in (
        "Add a volunteer to my agency",
        "The volunteer appears in the list",
        "An error page with Request ID 7f3a",
        "req-7f3a",
    ):
        assert f"<dd>{text}</dd>" in page


def test_it_tells_replies_from_internal_notes(agent_client, agent, ticket):
    lifecycle.agent_reply(ticket, agent, "Which agency is it?")
    lifecycle.agent_reply(ticket, agent, "Probably the import bug", internal=True)
    page = page_of(agent_client, ticket)
    note = page.split("Probably the import bug")[0].rsplit("<article", 1)[1]
    reply = page.split("Which agency is it?")[0].rsplit("<article", 1)[1]
    assert 'class="message internal"' in note and "Internal note" in note
    assert 'class="message"' in reply and "Public reply" in reply


def test_it_links_attachments_for_download(agent_client, alice, make_ticket):
    ticket = make_ticket(alice, with_screenshot=True)
    attachment = Attachment.objects.get(ticket=ticket)
    page = page_of(agent_client, ticket)
    assert f'<a href="{reverse("attachment", args=[attachment.pk])}">screenshot.png</a>' in page
    assert "<img" not in page


def test_it_shows_the_timeline_with_who_and_from_to(agent_client, agent, ticket):
    lifecycle.claim(ticket, agent)
    lifecycle.change_status(ticket, Status.PENDING, by=agent)
    page = page_of(agent_client, ticket)
    timeline = page.split('id="timeline-heading"')[1]
    assert "Alice:" in timeline and "Created" in timeline
    assert "Agent:" in timeline and "Claimed" in timeline
    assert '<span class="from">open</span> → <span class="to">pending</span>' in timeline


def test_it_lists_the_requesters_last_ten_other_tickets(agent_client, alice, bob, make_ticket):
    older = [make_ticket(alice, f"Older {i}") for i in range(11)]
    make_ticket(bob, "Not hers")
    ticket = make_ticket(alice, "This one")
    page = page_of(agent_client, ticket)
    others = page.split('id="others-heading"')[1]
    shown = [t for t in older if f">#{t.pk} {t.subject}</a>" in others]
    assert shown == older[1:]  # the last ten, not the first
    assert "This one" not in others and "Not hers" not in others


def test_it_warns_when_another_agent_has_claimed_it(agent_client, agent, agent2, ticket):
    assert "Claimed by" not in page_of(agent_client, ticket)
    lifecycle.claim(ticket, agent2)
    assert "Claimed by Agent2: another agent is working this ticket." in page_of(
        agent_client, ticket
    )


def test_no_warning_when_it_is_mine(agent_client, agent, ticket):
    lifecycle.claim(ticket, agent)
    page = page_of(agent_client, ticket)
    assert "Claimed by" not in page
    assert "Agent (you)" in page


def test_the_page_sends_no_inline_script_or_style(agent_client, agent, ticket):
    lifecycle.agent_reply(ticket, agent, "<script>alert(1)</script>")
    page = page_of(agent_client, ticket)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert " style=" not in page and "hx-on" not in page
    for chunk in page.split("<script")[1:]:
        assert chunk.split(">")[0].strip().startswith("src=")


def test_every_input_has_a_label(manager, client, ticket):
    client.force_login(manager)  # the manager sees every form
    page = page_of(client, ticket)
    fields = r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*id="([^"]+)"'
    ids = re.findall(fields, page)
    assert ids
    for element_id in ids:
        assert f'for="{element_id}"' in page, element_id


def test_the_ticket_page_costs_a_fixed_number_of_queries(
    agent_client, agent, agent2, manager, client, alice, make_ticket, django_assert_max_num_queries
):
    for i in range(12):
        make_ticket(alice, f"Other {i}", with_screenshot=True)
    ticket = make_ticket(alice, with_screenshot=True)
    for i in range(15):
        lifecycle.agent_reply(ticket, agent, f"Reply {i}", uploads=[png_upload()])
        lifecycle.agent_reply(ticket, agent, f"Note {i}", internal=True)
    lifecycle.change_status(ticket, Status.PENDING, by=agent)
    client.force_login(manager)
    # session, user, ticket, messages, attachments, events, other tickets, presence, agents,
    # delivery problems, quarantined mail (the managers' navigation)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("agent:ticket", args=[ticket.pk]))
    assert response.status_code == 200
    assert response.content.decode().count('class="message') == 31
