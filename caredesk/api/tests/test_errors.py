"""Every failure is an RFC 9457 problem, and a 500 tells nothing of its cause."""

from __future__ import annotations

import base64
import logging

import pytest

from caredesk.api.errors import VALIDATION
from caredesk.tickets import access
from caredesk.tickets.models import Ticket

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


def _raw_post(api, path: str, body: bytes, content_type: str, as_):
    return api.client.post(BASE + path, body, content_type=content_type, headers=api.headers(as_))


@pytest.mark.parametrize("path", ["/tickets", "/tickets/{n}/messages", "/tickets/{n}/reopen"])
def test_json_nested_past_the_parsers_depth_is_a_400(api, alice, ticket, path):
    body = b'{"subject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # 200 KB: under the limit
    response = _raw_post(api, path.format(n=ticket.pk), body, "application/json", alice)
    assert "nested too deeply" in assert_problem(response, 400)["detail"]


def _multipart(fields: int, files: int) -> bytes:
    parts = [(b'name="subject"', b"Hi"), (b'name="actual"', b"It fails")]
    parts += [(b'name="f%d"' % i, b"v") for i in range(fields)]
    parts += [(b'name="attachments"; filename="a%d.png"' % i, b"x") for i in range(files)]
    body = b"".join(
        b"--XyZ\r\nContent-Disposition: form-data; " + head + b"\r\n\r\n" + value + b"\r\n"
        for head, value in parts
    )
    return body + b"--XyZ--\r\n"


@pytest.mark.parametrize(
    ("fields", "files", "detail"),
    [(1200, 0, "too many fields"), (0, 101, "Too many files")],
)
def test_more_form_fields_or_files_than_django_reads_is_a_400(api, alice, fields, files, detail):
    body = _multipart(fields, files)
    response = _raw_post(api, "/tickets", body, "multipart/form-data; boundary=XyZ", alice)
    assert detail in assert_problem(response, 400)["detail"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("position", ["²", "9" * 30])
def test_a_forged_cursor_position_is_a_validation_problem(api, agent, ticket, position):
    """ "²" passes str.isdigit() and fails int(); 30 digits overflow the database."""
    forged = base64.urlsafe_b64encode(f"tickets|{position}".encode()).decode().rstrip("=")
    response = api.get("/tickets", as_=agent, params={"cursor": forged})
    assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize(("queue", "position"), [("unclaimed", "²"), ("solved", "1_²")])
def test_a_queue_cursor_with_a_forged_position_starts_from_the_top(
    api, agent, ticket, queue, position
):
    forged = base64.urlsafe_b64encode(f"queue:{queue}|{position}".encode()).decode().rstrip("=")
    response = api.get(f"/queues/{queue}", as_=agent, params={"cursor": forged})
    assert response.status_code == 200
    expected = [ticket.pk] if queue == "unclaimed" else []
    assert [row["number"] for row in response.json()["items"]] == expected
