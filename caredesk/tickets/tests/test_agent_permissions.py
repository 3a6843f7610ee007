"""Every agent workspace page and endpoint: only signed-in support staff get in."""

import pytest
from django.urls import reverse

# (url name, method, takes the ticket number, POST data an agent's request succeeds with)
ENDPOINTS = [
    ("agent:queue", "get", False, None),
    ("agent:ticket", "get", True, None),
    ("agent:claim", "post", True, {}),
    ("agent:categorize", "post", True, {"category": "bug"}),
    ("agent:priority", "post", True, {"priority": "high"}),
    ("agent:status", "post", True, {"status": "pending"}),
    ("agent:reply", "post", True, {"body": "Hello", "kind": "reply"}),
    ("agent:assign", "post", True, {"action": "queue"}),
    ("agent:presence", "post", True, {"activity": "viewing"}),
]
IDS = [name for name, *_ in ENDPOINTS]


def _request(client, ticket, name, method, numbered, data):
    url = reverse(name, args=[ticket.pk] if numbered else [])
    return getattr(client, method)(url, data or {})


@pytest.mark.parametrize(("name", "method", "numbered", "data"), ENDPOINTS, ids=IDS)
def test_it_sends_anonymous_visitors_to_sign_in(client, ticket, name, method, numbered, data):
    response = _request(client, ticket, name, method, numbered, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "next=" in response["Location"]


@pytest.mark.parametrize("who", ["alice", "bob", "dev", "eve"])
@pytest.mark.parametrize(("name", "method", "numbered", "data"), ENDPOINTS, ids=IDS)
def test_it_hides_the_workspace_from_non_agents(
    client, ticket, request, who, name, method, numbered, data
):
    client.force_login(request.getfixturevalue(who))
    response = _request(client, ticket, name, method, numbered, data)
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.category == "uncategorized"
    assert ticket.messages.count() == 1


@pytest.mark.parametrize(("name", "method", "numbered", "data"), ENDPOINTS, ids=IDS)
def test_it_lets_agents_in(client, agent, ticket, name, method, numbered, data):
    client.force_login(agent)
    response = _request(client, ticket, name, method, numbered, data)
    if method == "post" and name != "agent:presence":
        # Actions answer with a redirect back to the ticket page, which then loads.
        assert response.status_code == 302
        assert response["Location"] == reverse("agent:ticket", args=[ticket.pk])
        response = client.get(response["Location"])
    assert response.status_code == 200


def test_it_gives_404_for_a_ticket_that_does_not_exist(client, agent):
    client.force_login(agent)
    assert client.get(reverse("agent:ticket", args=[999999])).status_code == 404
    assert client.post(reverse("agent:claim", args=[999999])).status_code == 404


def test_it_refuses_get_on_action_endpoints(client, agent, ticket):
    client.force_login(agent)
    assert client.get(reverse("agent:claim", args=[ticket.pk])).status_code == 405
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_it_treats_a_deactivated_agent_as_a_stranger(client, agent, ticket):
    agent.is_active = False
    agent.save()
    client.force_login(agent)
    # A deactivated user's session no longer authenticates: back to sign-in.
    response = client.get(reverse("agent:queue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
