"""Property-based: schemathesis generates requests for every operation from
/api/v1/openapi.json and sends them in-process (WSGI) as a requester and as an agent.
Whatever it sends — valid requests, and (as an agent) invalid ones — no answer may be a
5xx, and every answer must match the document: a documented status, content type,
headers and body schema.

Small and deterministic (derandomized, a few examples per operation), so it stays fast
and gives the same verdict on every run.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from caredesk.accounts.models import ApiToken
from caredesk.conftest import png_upload
from caredesk.tickets import lifecycle

from .conftest import issue_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema():
    """The document, loaded once through Django's real WSGI handler — minus what would
    close the test's database connection at the end of each request (Django's own test
    client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def desk(settings, alice, agent, make_ticket) -> dict[str, list[int]]:
    """Things to find — alice's tickets, one with a screenshot, a note with a file and a
    reply — and their ids, for the path parameters."""
    settings.API_RATE_LIMIT_PER_TOKEN = settings.API_RATE_LIMIT_PER_IP = 10**6
    ticket = make_ticket(alice, with_screenshot=True)
    lifecycle.agent_reply(ticket, agent, "Internal", internal=True, uploads=[png_upload()])
    lifecycle.agent_reply(ticket, agent, "Which browser?")
    other = make_ticket(alice)
    return {
        "number": [ticket.pk, other.pk],
        "attachment_id": list(ticket.attachments.values_list("pk", flat=True)),
    }


EXAMPLES = settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _existing(ids: dict[str, list[int]], strategy):
    """Most cases aim at things that exist: random numbers would nearly all be 404s."""

    def aim(drawn):
        case, pick, dice = drawn
        if dice < 3:
            for name in case.path_parameters or {}:
                if ids.get(name):
                    case.path_parameters[name] = ids[name][pick % len(ids[name])]
        return case

    return st.tuples(strategy, st.integers(0, 7), st.integers(0, 3)).map(aim)


def _every_operation_conforms(schema, user, ids, *, mode=GenerationMode.POSITIVE) -> None:
    # Driven by hand rather than with schemathesis' pytest plugin, whose lazy (fixture)
    # loader does not run under pytest 9; one hypothesis run per operation.
    token = issue_token(user)
    headers = {"Authorization": f"Bearer {token}"}
    # A spare token for revokeToken to revoke: revoking the one in use would turn every
    # later case into a 401.
    spare = issue_token(user)
    ids = {**ids, "token_id": [ApiToken.objects.get(prefix=spare[:11]).pk]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17

    for operation in operations:

        @given(case=_existing(ids, operation.as_strategy(generation_mode=mode)))
        @EXAMPLES
        def run(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except Exception as exc:
            exc.add_note(f"operation: {operation.label}")
            raise


def test_every_answer_to_a_requester_conforms(api_schema, desk, alice):
    _every_operation_conforms(api_schema, alice, desk)


def test_every_answer_to_an_agent_conforms(api_schema, desk, agent):
    _every_operation_conforms(api_schema, agent, desk)


def test_invalid_requests_are_refused_as_documented(api_schema, desk, agent):
    """Negative cases: bodies, parameters and headers that break the schema. Each must be
    refused (a documented 4xx problem), never a 5xx."""
    _every_operation_conforms(api_schema, agent, desk, mode=GenerationMode.NEGATIVE)
