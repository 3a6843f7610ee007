"""Each action of the ticket page, through the web client and the lifecycle rules."""

import pytest
from django.urls import reverse

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status
from caredesk.tickets.models import Attachment, Event, Ticket


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def url(name, ticket):
    return reverse(f"agent:{name}", args=[ticket.pk])


def post(client, name, ticket, data=None, **kw):
    """POST an action and follow the redirect back to the ticket page."""
    response = client.post(url(name, ticket), data or {}, follow=True, **kw)
    assert response.redirect_chain == [(url("ticket", ticket), 302)]
    return response.content.decode()


def test_it_claims_a_ticket(agent_client, agent, ticket):
    page = post(agent_client, "claim", ticket)
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.status == Status.OPEN
    assert f"You claimed #{ticket.pk}." in page
    assert "Claim this ticket" not in page


def test_a_conflicting_claim_shows_who_holds_it_and_changes_nothing(agent_client, agent2, ticket):
    lifecycle.claim(ticket, agent2)
    events = Event.objects.count()
    page = post(agent_client, "claim", ticket)
    ticket.refresh_from_db()
    assert ticket.assignee == agent2
    assert Event.objects.count() == events
    assert f"Ticket #{ticket.pk} was already claimed by Agent2." in page
    assert "Claimed by Agent2" in page  # and the standing warning on the page


def test_it_categorizes(agent_client, agent, ticket):
    page = post(agent_client, "categorize", ticket, {"category": "bug"})
    ticket.refresh_from_db()
    assert ticket.category == "bug"
    event = ticket.events.get(kind=EventKind.CATEGORIZED)
    assert (event.actor, event.from_value, event.to_value) == (agent, "uncategorized", "bug")
    assert "Categorized as bug." in page


def test_it_refuses_an_unknown_category(agent_client, ticket):
    page = post(agent_client, "categorize", ticket, {"category": "rant"})
    ticket.refresh_from_db()
    assert ticket.category == "uncategorized"
    assert "Select a valid choice" in page


def test_it_sets_the_priority(agent_client, ticket):
    page = post(agent_client, "priority", ticket, {"priority": "urgent"})
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert ticket.events.filter(kind=EventKind.PRIORITY, to_value="urgent").exists()
    assert "Priority set to urgent." in page


def test_a_public_reply_stamps_the_first_response_and_claims(agent_client, agent, ticket):
    page = post(agent_client, "reply", ticket, {"body": "Which agency?", "kind": "reply"})
    ticket.refresh_from_db()
    message = ticket.messages.last()
    assert (message.body, message.internal, message.author) == ("Which agency?", False, agent)
    assert ticket.first_response_at == message.created_at
    assert ticket.assignee == agent and ticket.status == Status.OPEN
    assert "Reply sent." in page and "Which agency?" in page


def test_a_reply_can_set_the_status(agent_client, ticket):
    post(
        agent_client, "reply", ticket, {"body": "Which one?", "kind": "reply", "status": "pending"}
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING


def test_a_note_is_internal_and_is_not_a_response(agent_client, ticket):
    page = post(agent_client, "reply", ticket, {"body": "Looks like bug 12", "kind": "note"})
    ticket.refresh_from_db()
    note = ticket.messages.last()
    assert note.internal and note.body == "Looks like bug 12"
    assert ticket.first_response_at is None
    assert ticket.assignee is None  # a note does not claim
    assert "Internal note added." in page
    assert 'class="message internal"' in page and "Internal note</span>" in page


def test_a_reply_carries_attachments(agent_client, ticket):
    data = {"body": "See the screenshot", "kind": "reply", "attachments": [png_upload("a.png")]}
    page = post(agent_client, "reply", ticket, data)
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.message == ticket.messages.last() and attachment.filename == "a.png"
    assert f'href="{reverse("attachment", args=[attachment.pk])}"' in page


def test_an_empty_reply_keeps_the_form_and_stores_nothing(agent_client, ticket):
    response = agent_client.post(url("reply", ticket), {"body": "  ", "kind": "reply"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ticket.messages.count() == 1


def test_a_refused_reply_keeps_the_text_and_says_why(agent_client, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    data = {"body": "Still there?", "kind": "reply", "status": "pending"}
    response = agent_client.post(url("reply", ticket), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "A Solved ticket cannot become Pending" in page
    assert "Still there?</textarea>" in page
    assert ticket.messages.count() == 1


def test_it_changes_the_status(agent_client, agent, ticket):
    lifecycle.claim(ticket, agent)
    page = post(agent_client, "status", ticket, {"status": "on_hold"})
    ticket.refresh_from_db()
    assert ticket.status == Status.ON_HOLD
    event = ticket.events.filter(kind=EventKind.STATUS).last()
    assert (event.actor, event.from_value, event.to_value) == (agent, Status.OPEN, Status.ON_HOLD)
    assert "Status set to On-hold." in page


def test_an_invalid_status_change_shows_the_reason_and_changes_nothing(agent_client, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    ticket.refresh_from_db()
    before = (ticket.status, ticket.updated_at, ticket.events.count())
    page = post(agent_client, "status", ticket, {"status": "pending"})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.updated_at, ticket.events.count()) == before
    assert "A Solved ticket cannot become Pending; it can become: Open, Closed." in page


def test_the_status_menu_offers_only_allowed_moves(agent_client, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    page = agent_client.get(url("ticket", ticket)).content.decode()
    menu = page.split('name="status" id="id_status"')[1].split("</select>")[0]
    assert 'value="open"' in menu and 'value="closed"' in menu
    assert 'value="pending"' not in menu


def test_a_closed_ticket_offers_no_actions(agent_client, agent, ticket):
    lifecycle.change_status(ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    page = agent_client.get(url("ticket", ticket)).content.decode()
    assert "This ticket is closed" in page
    assert url("reply", ticket) not in page and url("status", ticket) not in page


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_reassigns_to_another_agent(manager_client, manager, agent, agent2, ticket):
    lifecycle.claim(ticket, agent)
    page = post(manager_client, "assign", ticket, {"assignee": agent2.pk, "action": "assign"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent2
    event = ticket.events.get(kind=EventKind.ASSIGNED)
    assert (event.actor, event.from_value, event.to_value) == (manager, agent.email, agent2.email)
    assert "assigned to Agent2" in page


def test_a_manager_returns_a_ticket_to_the_queue(manager_client, agent, ticket):
    lifecycle.claim(ticket, agent)
    page = post(manager_client, "assign", ticket, {"action": "queue"})
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.status == Status.NEW
    assert "back in the unclaimed queue" in page


def test_the_reassign_menu_lists_active_agents_only(
    manager_client, manager, agent, agent2, dev, alice, ticket
):
    agent2.is_active = False
    agent2.save()
    page = manager_client.get(url("ticket", ticket)).content.decode()
    menu = page.split('name="assignee"')[1].split("</select>")[0]
    assert f'value="{agent.pk}"' in menu and f'value="{manager.pk}"' in menu
    for stranger in (agent2, dev, alice):
        assert f'value="{stranger.pk}"' not in menu


def test_a_manager_cannot_assign_to_a_non_agent(manager_client, dev, ticket):
    page = post(manager_client, "assign", ticket, {"assignee": dev.pk, "action": "assign"})
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert "Select a valid choice" in page


def test_reassigning_is_refused_for_a_plain_agent(agent_client, agent, agent2, ticket):
    lifecycle.claim(ticket, agent)
    page = post(agent_client, "assign", ticket, {"assignee": agent2.pk, "action": "assign"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert not ticket.events.filter(kind=EventKind.ASSIGNED).exists()
    assert "Only a support manager may reassign tickets." in page
    assert url("assign", ticket) not in page  # and the form is not offered to them


def test_claiming_from_the_queue_list(agent_client, agent, ticket):
    response = agent_client.post(url("claim", ticket))
    assert response["Location"] == url("ticket", ticket)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent
