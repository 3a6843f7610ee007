"""One error format for the whole API: RFC 9457 problem details (``application/problem+json``).

Every refusal is a ``Problem``: ``type`` (a URI naming the kind of problem; ``about:blank``
when the HTTP status says it all), ``title`` (fixed per type), ``status``, ``detail`` (this
occurrence, fit to show to a person) and ``instance`` (the request path), plus ``errors``
for validation and ``holder`` for a claim conflict. Endpoints raise ``ApiProblem`` or let
the rules' exceptions through; the handlers here turn each into a response, and the 500
handler logs the exception and tells the client nothing about it.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from pydantic import Field

from caredesk.tickets.lifecycle import ClaimConflict, NotPermitted, TransitionError

logger = logging.getLogger("caredesk.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Problem types beyond the plain HTTP statuses (documented in the API description).
VALIDATION = "urn:caredesk:problem:validation"
TRANSITION_REFUSED = "urn:caredesk:problem:transition-refused"
CLAIM_CONFLICT = "urn:caredesk:problem:claim-conflict"
IDEMPOTENCY_KEY_REUSED = "urn:caredesk:problem:idempotency-key-reused"

TITLES = {
    VALIDATION: "The request is not valid",
    TRANSITION_REFUSED: "The ticket cannot make this change",
    CLAIM_CONFLICT: "The ticket is already claimed",
    IDEMPOTENCY_KEY_REUSED: "The Idempotency-Key was used for a different request",
}


class FieldError(Schema):
    loc: list[str | int] = Field(description='Where: ["body", "subject"], ["query", "cursor"]…')
    msg: str
    type: str


class Holder(Schema):
    name: str


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem; about:blank: see status.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path of the request that failed.")
    errors: list[FieldError] | None = Field(
        None, description="Validation problems only: one entry per invalid field."
    )
    holder: Holder | None = Field(None, description="Claim conflicts only: who holds the ticket.")


class ApiProblem(Exception):
    """Raise from an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.headers = headers or {}
        self.extensions = extensions


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, detail)


def invalid(loc: list[str | int], msg: str, type: str = "value_error") -> ValidationError:
    """A validation problem about one input, in ninja's format (answered as 422)."""
    return ValidationError([{"loc": loc, "msg": msg, "type": type}])


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    type: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> HttpResponse:
    body = {
        "type": type,
        "title": TITLES.get(type) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **{k: v for k, v in extensions.items() if v is not None},
    }
    response = HttpResponse(
        json.dumps(body), status=status, content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_problem(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)


# ---------------------------------------------------------------- handlers


def _field_errors(errors: list[dict]) -> list[dict]:
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


def _on_validation(request, exc: ValidationError) -> HttpResponse:
    errors = _field_errors(exc.errors)
    where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    return problem_response(
        request,
        422,
        f"Check these fields: {where}." if where else "The request is not valid.",
        type=VALIDATION,
        errors=errors,
    )


def _on_authentication(request, exc: AuthenticationError) -> HttpResponse:
    from . import ratelimit  # counts failed attempts per address

    limited = ratelimit.check_address(request)
    if limited is not None:
        return limited
    detail = exc.message if exc.message != "Unauthorized" else "Authentication is required."
    return problem_response(
        request, 401, detail, headers={"WWW-Authenticate": 'Bearer realm="caredesk"'}
    )


def _on_http_error(request, exc: HttpError) -> HttpResponse:
    headers = {}
    if isinstance(exc, Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(-(-exc.wait // 1))))
        detail = f"Too many requests; try again in {headers['Retry-After']} s."
    else:
        detail = exc.message
    return problem_response(request, exc.status_code, detail, headers=headers)


def _on_problem(request, exc: ApiProblem) -> HttpResponse:
    return problem_response(
        request, exc.status, exc.detail, type=exc.type, headers=exc.headers, **exc.extensions
    )


def _on_404(request, exc: Http404) -> HttpResponse:
    # Our own messages ("No such ticket") say nothing more than the status does.
    detail = str(exc) if str(exc) in ("No such ticket", "No such attachment") else "Not found."
    return problem_response(request, 404, detail)


def _on_transition(request, exc: TransitionError) -> HttpResponse:
    # The request was well-formed (the schemas checked it); the ticket's current state
    # refuses it: 409 Conflict, and the rule's own words say what would work.
    return problem_response(request, 409, str(exc), type=TRANSITION_REFUSED)


def _on_not_permitted(request, exc: NotPermitted) -> HttpResponse:
    # The rules refused the person, not the ticket's state: 403, in the rule's words.
    return problem_response(request, 403, str(exc))


def _on_claim_conflict(request, exc: ClaimConflict) -> HttpResponse:
    holder = {"name": exc.holder.display_name} if exc.holder else None
    return problem_response(request, 409, str(exc), type=CLAIM_CONFLICT, holder=holder)


def _on_too_big(request, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(request, 413, "The request body is too large.")


def _on_unreadable(request, exc: Exception) -> HttpResponse:
    return problem_response(request, 400, "The multipart body cannot be read.")


def _on_suspicious(request, exc: SuspiciousOperation) -> HttpResponse:
    # Django's own limits on what a multipart request may carry, and its other refusals.
    if isinstance(exc, TooManyFilesSent):
        detail = f"Too many files: attach at most {settings.ATTACHMENTS_PER_MESSAGE}."
    elif isinstance(exc, TooManyFieldsSent):
        detail = "The form has too many fields."
    else:
        detail = "The request was refused as malformed."
    return problem_response(request, 400, detail)


def on_unexpected(request, exc: Exception) -> HttpResponse:
    """The 500: logged with its traceback here, nothing of it in the answer."""
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return problem_response(
        request, 500, "An unexpected error occurred. It has been logged; please try again."
    )


def install(api: NinjaAPI) -> None:
    api.add_exception_handler(Exception, on_unexpected)
    api.add_exception_handler(ValidationError, _on_validation)
    api.add_exception_handler(HttpError, _on_http_error)
    api.add_exception_handler(AuthenticationError, _on_authentication)
    api.add_exception_handler(ApiProblem, _on_problem)
    api.add_exception_handler(Http404, _on_404)
    api.add_exception_handler(TransitionError, _on_transition)
    api.add_exception_handler(NotPermitted, _on_not_permitted)
    api.add_exception_handler(ClaimConflict, _on_claim_conflict)
    api.add_exception_handler(SuspiciousOperation, _on_suspicious)
    api.add_exception_handler(RequestDataTooBig, _on_too_big)
    api.add_exception_handler(MultiPartParserError, _on_unreadable)
    api.add_exception_handler(UnreadablePostError, _on_unreadable)


def responses(*codes: int) -> dict[int, type[Problem]]:
    """The error part of an operation's ``response=``: every code answered with a Problem.
    Every operation can answer 401 (authenticated ones), 429 and 500; add the rest."""
    return dict.fromkeys(sorted({*codes, 429, 500}), Problem)
