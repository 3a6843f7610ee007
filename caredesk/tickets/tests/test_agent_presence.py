"""Presence: the ticket page warns when another agent is viewing or replying right now."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from caredesk.tickets import presence
from caredesk.tickets.models import Presence


def beat(client, ticket, activity="viewing"):
    response = client.post(reverse("agent:presence", args=[ticket.pk]), {"activity": activity})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def other_client(agent2):
    other = Client()
    other.force_login(agent2)
    return other


def test_it_warns_that_another_agent_is_replying(agent_client, other_client, ticket):
    beat(other_client, ticket, "replying")
    page = agent_client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    assert "Agent2 is replying to this ticket right now." in page
    # and the heartbeat fragment says the same
    fragment = beat(agent_client, ticket)
    assert "Agent2 is replying to this ticket right now." in fragment
    assert "<html" not in fragment


def test_it_shows_who_is_viewing_but_not_me(agent_client, other_client, ticket):
    beat(other_client, ticket)
    fragment = beat(agent_client, ticket)
    assert "Agent2 is viewing this ticket right now." in fragment
    assert "Agent is" not in fragment
    assert "Agent is viewing" in beat(other_client, ticket)


def test_a_viewing_beat_does_not_hide_a_reply_in_progress(agent_client, other_client, ticket):
    beat(other_client, ticket, "replying")
    beat(other_client, ticket, "viewing")  # the periodic heartbeat of the same page
    assert "Agent2 is replying" in beat(agent_client, ticket)


def test_replying_fades_to_viewing_when_typing_stopped(agent_client, other_client, agent2, ticket):
    beat(other_client, ticket, "replying")
    Presence.objects.filter(user=agent2).update(
        seen_at=Presence.objects.get(user=agent2).seen_at - presence.REPLYING_HOLD
    )
    beat(other_client, ticket, "viewing")
    assert "Agent2 is viewing" in beat(agent_client, ticket)


def test_sending_the_reply_ends_replying(agent_client, other_client, agent2, ticket):
    beat(other_client, ticket, "replying")
    reply = {"body": "Done", "kind": "reply"}
    other_client.post(reverse("agent:reply", args=[ticket.pk]), reply)
    assert Presence.objects.get(user=agent2).activity == "viewing"


def test_agents_who_left_are_not_shown(agent_client, other_client, agent2, ticket):
    beat(other_client, ticket, "replying")
    Presence.objects.filter(user=agent2).update(
        seen_at=Presence.objects.get(user=agent2).seen_at - presence.WINDOW - timedelta(seconds=1)
    )
    assert "Agent2" not in beat(agent_client, ticket)


def test_presence_is_per_ticket(agent_client, other_client, alice, make_ticket):
    first, second = make_ticket(alice), make_ticket(alice)
    beat(other_client, first, "replying")
    assert "Agent2" not in beat(agent_client, second)


def test_one_row_per_agent_and_ticket(other_client, agent2, ticket):
    for activity in ("viewing", "replying", "viewing", "nonsense"):
        beat(other_client, ticket, activity)
    assert Presence.objects.filter(ticket=ticket, user=agent2).count() == 1


def test_the_page_polls_and_the_reply_box_reports_typing(agent_client, ticket):
    page = agent_client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    url = reverse("agent:presence", args=[ticket.pk])
    assert f'hx-post="{url}" hx-trigger="load, every 15s"' in page
    textarea = page.split("<textarea")[1].split(">")[0]
    assert f'hx-post="{url}"' in textarea
    assert 'hx-trigger="input changed delay:1s"' in textarea
    assert "replying" in textarea and 'hx-params="activity"' in textarea
