"""Every failure is an RFC 9457 problem, and a 500 tells nothing of its cause."""

from __future__ import annotations

import logging

from caredesk.tickets import access

from .conftest import BASE, assert_problem


def test_an_unknown_path_is_a_404_problem(api, alice):
    assert_problem(api.get("/no/such/endpoint", as_=alice), 404)
    assert_problem(api.get("/", as_=None), 404)


def test_a_wrong_method_is_a_405_problem_with_allow(api, alice):
    response = api.client.put(f"{BASE}/tickets", headers=api.headers(alice))

    body = assert_problem(response, 405)
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}
    assert "PUT" in body["detail"]


def test_a_validation_problem_lists_each_field(api, alice):
    response = api.get("/tickets", as_=alice, params={"limit": 0, "status": "lost"})

    body = assert_problem(response, 422, "urn:caredesk:problem:validation")
    assert body["title"] == "The request is not valid"
    assert {tuple(e["loc"]) for e in body["errors"]} == {("query", "limit"), ("query", "status")}
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}


def test_an_out_of_range_number_is_a_validation_problem_not_a_crash(api, alice):
    assert_problem(api.get(f"/tickets/{2**70}", as_=alice), 422, "urn:caredesk:problem:validation")
    assert_problem(api.get("/tickets/0", as_=alice), 422, "urn:caredesk:problem:validation")


def test_an_unexpected_error_is_a_500_that_leaks_nothing(api, alice, ticket, monkeypatch, caplog):
    def broken(user, ticket):
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(access, "visible_messages", broken)

    with caplog.at_level(logging.ERROR, logger="caredesk.api"):
        response = api.get(f"/tickets/{ticket.number}", as_=alice)

    body = assert_problem(response, 500)
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    assert body["detail"].startswith("An unexpected error occurred")
    assert "hunter2" in caplog.text  # logged, with its traceback, for us


def test_problems_name_the_request_path(api, bob, ticket):
    response = api.get(f"/tickets/{ticket.number}", as_=bob)

    body = assert_problem(response, 404)
    assert body["instance"] == f"{BASE}/tickets/{ticket.number}"
    assert body["detail"] == "No such ticket"
