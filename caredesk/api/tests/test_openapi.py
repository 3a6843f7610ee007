"""The OpenAPI document and the docs page that works offline under our CSP."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

from .conftest import BASE

OPERATIONS = {
    ("post", "/api/v1/auth/token"): "issueToken",
    ("get", "/api/v1/auth/tokens"): "listTokens",
    ("delete", "/api/v1/auth/tokens/{token_id}"): "revokeToken",
    ("get", "/api/v1/auth/me"): "getMe",
    ("post", "/api/v1/tickets"): "createTicket",
    ("get", "/api/v1/tickets"): "listTickets",
    ("get", "/api/v1/tickets/{number}"): "getTicket",
    ("post", "/api/v1/tickets/{number}/messages"): "postMessage",
    ("post", "/api/v1/tickets/{number}/solve"): "solveTicket",
    ("post", "/api/v1/tickets/{number}/reopen"): "reopenTicket",
    ("get", "/api/v1/attachments/{attachment_id}"): "getAttachment",
    ("get", "/api/v1/queues/{queue}"): "getQueue",
    ("post", "/api/v1/tickets/{number}/claim"): "claimTicket",
    ("post", "/api/v1/tickets/{number}/categorize"): "categorizeTicket",
    ("post", "/api/v1/tickets/{number}/priority"): "setTicketPriority",
    ("post", "/api/v1/tickets/{number}/status"): "setTicketStatus",
    ("post", "/api/v1/tickets/{number}/assign"): "assignTicket",
}
CREATING = {"issueToken", "createTicket", "postMessage", "reopenTicket"}


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_every_operation_is_there_with_its_operation_id(document):
    found = {(m, p): op["operationId"] for m, p, op in _operations(document)}

    assert found == OPERATIONS


def test_errors_are_documented_as_problem_details(document):
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for _, path, operation in _operations(document):
        codes = {int(c) for c in operation["responses"]}
        assert {429, 500} <= codes, path
        if operation["operationId"] != "issueToken":
            assert 401 in codes and operation["security"], path
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": problem_ref}
                }, (path, code)
        assert operation["responses"]["429"]["headers"]["Retry-After"]


def test_bodies_and_answers_are_typed(document):
    for _, path, operation in _operations(document):
        ok = next(r for c, r in operation["responses"].items() if int(c) < 300)
        if operation["operationId"] == "getAttachment":
            assert "application/octet-stream" in ok["content"]
        elif operation["operationId"] != "revokeToken":  # 204: no body
            assert "$ref" in str(ok["content"]["application/json"]["schema"]), path
        if "requestBody" in operation:
            for media in operation["requestBody"]["content"].values():
                assert "$ref" in str(media["schema"]), path
    create = document["paths"]["/api/v1/tickets"]["post"]["requestBody"]["content"]
    assert set(create) == {"application/json", "multipart/form-data"}
    schemas = document["components"]["schemas"]
    assert schemas["TicketCreateMultipart"]["properties"]["attachments"]["items"] == {
        "type": "string",
        "format": "binary",
    }


def test_creating_operations_take_an_idempotency_key(document):
    for _, _, operation in _operations(document):
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in names) == (operation["operationId"] in CREATING)


def test_the_docs_page_uses_only_our_own_assets(client, db):
    response = client.get(f"{BASE}/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "//" not in html.replace("<!DOCTYPE html>", "")  # no http://, https://, //cdn
    assert "cdn" not in html.lower()
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"[^>]*>", html)
    assert scripts == [
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
    ]
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    assert html.count(f'nonce="{nonce}"') == 2
    for url in [*scripts, *re.findall(r'href="([^"]+)"', html)]:
        assert url.startswith("/static/")
        assert finders.find(url.removeprefix("/static/")), url
    assert '"url": "/api/v1/openapi.json"' in html
    assert '"validatorUrl": null' in html
