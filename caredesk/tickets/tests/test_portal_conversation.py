"""The portal ticket page: the public conversation and the requester's reply."""

from django.test import Client
from django.urls import reverse

from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel, EventKind, Status
from caredesk.tickets.models import Attachment, Message, Ticket


def _page(client, ticket) -> str:
    response = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_request_and_the_public_conversation(client, alice, ticket, agent):
    agent.name = "Sam Agent"
    agent.save()
    lifecycle.agent_reply(ticket, agent, "Which browser do you use?", status=Status.PENDING)
    client.force_login(alice)

    html = _page(client, ticket)

    assert f"#{ticket.number}" in html
    assert "Add a volunteer to my agency" in html  # the guided answers
    assert "The volunteer appears in the list" in html
    assert "An error page with Request ID 7f3a" in html
    assert "req-7f3a" in html
    assert "Which browser do you use?" in html
    assert 'class="badge status-pending"' in html
    assert "Sam Agent" in html
    assert agent.email not in html  # agents are named, never by address


def test_it_names_an_agent_without_a_name_as_the_support_team(client, alice, ticket, agent):
    agent.name = ""
    agent.save()
    lifecycle.claim(ticket, agent)
    client.force_login(alice)

    html = _page(client, ticket)

    assert "Support team" in html
    assert agent.email not in html


def test_it_never_shows_internal_notes_or_their_attachments(client, alice, ticket, agent):
    note = lifecycle.agent_reply(
        ticket,
        agent,
        "Internal: this customer is on the legacy plan",
        internal=True,
        uploads=[png_upload("internal-diagram.png")],
    )
    note_attachment = Attachment.objects.get(message=note)
    lifecycle.agent_reply(ticket, agent, "We are looking into it.")
    client.force_login(alice)

    html = _page(client, ticket)

    assert "We are looking into it." in html
    assert "legacy plan" not in html
    assert "internal-diagram.png" not in html
    assert reverse("attachment", args=[note_attachment.pk]) not in html
    assert client.get(reverse("attachment", args=[note_attachment.pk])).status_code == 404


def test_an_agent_viewing_their_own_request_in_the_portal_sees_no_notes(
    client, agent, agent2, make_ticket
):
    own = make_ticket(agent)
    lifecycle.agent_reply(own, agent2, "Note about a colleague", internal=True)
    client.force_login(agent)

    assert "Note about a colleague" not in _page(client, own)


def test_it_links_attachments_of_public_messages(client, alice, agent, make_ticket):
    ticket = make_ticket(alice, with_screenshot=True)
    client.force_login(alice)

    html = _page(client, ticket)

    attachment = Attachment.objects.get(ticket=ticket)
    assert reverse("attachment", args=[attachment.pk]) in html
    assert "screenshot.png" in html


def test_a_reply_is_added_to_the_conversation(client, alice, ticket):
    client.force_login(alice)

    response = client.post(
        reverse("portal:reply", args=[ticket.number]),
        {"body": "It also happens on my phone.", "attachments": [png_upload("phone.png")]},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:ticket", args=[ticket.number])
    message = ticket.messages.last()
    assert message.body == "It also happens on my phone."
    assert message.author == alice
    assert message.channel == Channel.PORTAL
    assert not message.internal
    assert message.attachments.get().filename == "phone.png"
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    html = client.get(response["Location"]).content.decode()
    assert "Your reply was added." in html
    assert "It also happens on my phone." in html


def test_a_reply_reopens_a_pending_ticket(client, alice, ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Which browser?", status=Status.PENDING)
    client.force_login(alice)

    response = client.post(reverse("portal:reply", args=[ticket.number]), {"body": "Firefox"})

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN  # back to the agent who holds it
    assert ticket.assignee == agent
    assert "the ticket is open again" in client.get(response["Location"]).content.decode()


def test_a_reply_reopens_a_solved_ticket(client, alice, ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Fixed, please try again.", status=Status.SOLVED)
    client.force_login(alice)

    client.post(reverse("portal:reply", args=[ticket.number]), {"body": "Still broken"})

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.solved_at is None
    assert ticket.events.filter(
        kind=EventKind.STATUS, from_value=Status.SOLVED, to_value=Status.OPEN
    ).exists()


def test_a_reply_on_a_closed_ticket_opens_a_linked_follow_up(client, alice, ticket, agent):
    lifecycle.agent_reply(ticket, agent, "Done.", status=Status.SOLVED)
    lifecycle.change_status(ticket, Status.CLOSED, by=agent)
    client.force_login(alice)
    html = _page(client, ticket)
    assert "Your reply will open a new ticket" in html

    response = client.post(
        reverse("portal:reply", args=[ticket.number]), {"body": "It broke again today."}
    )

    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response["Location"] == reverse("portal:ticket", args=[follow_up.number])
    assert follow_up.requester == alice
    assert follow_up.channel == Channel.PORTAL
    assert follow_up.messages.get().body == "It broke again today."
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.messages.filter(body="It broke again today.").count() == 0

    page = client.get(response["Location"]).content.decode()
    assert f"Ticket #{ticket.number} was closed" in page
    assert f"#{follow_up.number}" in page
    assert reverse("portal:ticket", args=[ticket.number]) in page  # "Follow-up of" link
    assert reverse("portal:ticket", args=[follow_up.number]) in _page(client, ticket)


def test_an_empty_reply_is_refused(client, alice, ticket):
    client.force_login(alice)

    response = client.post(reverse("portal:reply", args=[ticket.number]), {"body": "   "})

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert ticket.messages.count() == 1


def test_an_oversized_reply_attachment_is_refused_and_nothing_stored(
    client, alice, ticket, settings
):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(alice)

    response = client.post(
        reverse("portal:reply", args=[ticket.number]),
        {"body": "Here is the screenshot", "attachments": [png_upload()]},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "attachments may be at most 10\xa0bytes" in html
    assert "Here is the screenshot" in html  # kept, to send again
    assert ticket.messages.count() == 1
    assert not Attachment.objects.exists()


def test_a_colleague_may_reply_on_a_shared_ticket(client, carol, ticket, acme):
    acme.shared_tickets = True
    acme.save()
    client.force_login(carol)

    client.post(reverse("portal:reply", args=[ticket.number]), {"body": "Same here at Acme"})

    assert ticket.messages.last().author == carol


def test_reply_needs_a_csrf_token(alice, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("portal:reply", args=[ticket.number]), {"body": "Hi"})

    assert response.status_code == 403
    assert Message.objects.count() == 1


def test_reply_is_post_only(client, alice, ticket):
    client.force_login(alice)
    assert client.get(reverse("portal:reply", args=[ticket.number])).status_code == 405
