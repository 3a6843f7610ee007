"""The requester's "Mark as solved" button."""

from django.test import Client
from django.urls import reverse

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import EventKind, Status


def test_it_marks_the_ticket_solved(client, alice, ticket, agent):
    lifecycle.claim(ticket, agent)
    client.force_login(alice)
    page = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert "Mark as solved" in page.content.decode()

    response = client.post(reverse("portal:solve", args=[ticket.number]))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:ticket", args=[ticket.number])
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert ticket.solved_at is not None
    event = ticket.events.get(kind=EventKind.STATUS, to_value=Status.SOLVED)
    assert event.actor == alice
    assert event.data == {"by_requester": True}
    page = client.get(response["Location"]).content.decode()
    assert "is marked as solved" in page
    assert "Mark as solved" not in page  # nothing left to mark


def test_it_says_so_when_the_ticket_is_already_closed(client, alice, ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Done.", status=Status.SOLVED)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    client.force_login(alice)

    response = client.post(reverse("portal:solve", args=[ticket.number]), follow=True)

    assert f"Ticket #{ticket.number} is already closed." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_it_is_post_only(client, alice, ticket):
    client.force_login(alice)

    assert client.get(reverse("portal:solve", args=[ticket.number])).status_code == 405
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_it_needs_a_csrf_token(alice, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("portal:solve", args=[ticket.number]))

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
