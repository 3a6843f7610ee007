"""The web session works for the API too, with Django's CSRF check on unsafe methods."""

from __future__ import annotations

import re

from django.test import Client

from caredesk.tickets.models import Ticket

from .conftest import BASE, assert_problem, ticket_payload


def _signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_signed_in_user_reads_with_the_session(alice, ticket):
    client = _signed_in(alice)

    response = client.get(f"{BASE}/tickets/{ticket.number}")

    assert response.status_code == 200
    assert response.json()["number"] == ticket.number


def test_a_post_without_the_csrf_token_is_refused(alice):
    client = _signed_in(alice)

    response = client.post(f"{BASE}/tickets", ticket_payload(), content_type="application/json")

    body = assert_problem(response, 403)
    assert "CSRF" in body["detail"]
    assert not Ticket.objects.exists()


def test_a_post_with_the_csrf_token_is_accepted(alice):
    client = _signed_in(alice)
    # The docs page hands the token to its scripts (Swagger UI's "Try it out").
    page = client.get(f"{BASE}/docs").content.decode()
    csrf = re.search(r'data-csrf-token="([^"]+)"', page)[1]

    response = client.post(
        f"{BASE}/tickets",
        ticket_payload(),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )

    assert response.status_code == 201, response.content


def test_a_token_needs_no_csrf_token_even_with_a_session(api, alice):
    client = _signed_in(alice)

    response = client.post(
        f"{BASE}/tickets",
        ticket_payload(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token(alice)}"},
    )

    assert response.status_code == 201


def test_signed_out_is_a_401_not_a_csrf_error(db):
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"{BASE}/tickets", ticket_payload(), content_type="application/json")

    assert_problem(response, 401)
