"""The REST API at /api/v1/: the NinjaAPI that every app's router is added to.

Routers live with their app (``caredesk/accounts/api.py``, ``caredesk/tickets/api.py``);
this package gives them authentication (``auth``), the error format (``errors``),
idempotency, bodies, pagination and rate limits, and assembles them here.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

from caredesk.accounts.api import router as accounts_router
from caredesk.core.middleware import declared_length
from caredesk.tickets.api import router as tickets_router

from . import errors, openapi
from .auth import SessionAuth, TokenAuth
from .ratelimit import ApiRateLimit

DESCRIPTION = """
The help desk's API, for the mobile app and for integrations.

**Authentication.** Create a personal access token with `issueToken` (email and password;
the token is shown once) and send it as `Authorization: Bearer cd_…`. List your tokens with
`listTokens`, revoke one with `revokeToken`. The web pages' own scripts may use the session
cookie instead, with Django's `X-CSRFToken` header on POST and DELETE.

**Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
`status`, `detail`, `instance`. Besides `about:blank` (the status says it all), `type` is
one of:

* `urn:caredesk:problem:validation` (422) — `errors` lists each invalid field;
* `urn:caredesk:problem:transition-refused` (409) — the ticket's current state refuses
  the change (a closed ticket, a status move the rules do not allow); `detail` says why;
* `urn:caredesk:problem:claim-conflict` (409) — another agent holds the ticket; `holder`
  names them;
* `urn:caredesk:problem:idempotency-key-reused` (422) — see below.

A ticket or attachment you may not see is a 404, never a 403.

**Idempotency.** Operations that create something (tokens, tickets, messages) take an
`Idempotency-Key` header. A retry with the same key within 24 hours gets the first answer
(with `Idempotent-Replayed: true`) and creates nothing; the same key with a different body
is a 422. Only successful answers are kept: a refused request may be retried as is.

**Rate limits.** Requests are counted per token (or signed-in user) and per client
address in fixed one-minute windows; over the limit the answer is 429 with `Retry-After`.
Password sign-in (`issueToken`) has the web sign-in's stricter limit.

**The mobile app** identifies itself with `X-Caredesk-Client: mobile/<version>
(<device>)`, e.g. `mobile/4.2.1 (iPhone15,2; iOS 18.1)`: its tickets and replies are
recorded as coming from the mobile app, with the version and device; other clients may
name themselves (`my-integration/1.0`) and are recorded as API.

**Lists** are paginated with opaque cursors: follow `next` (or pass `next_cursor` as
`cursor`) until it is null.
"""


class OfflineDocs(DocsBase):
    """Swagger UI from the assets django-ninja ships (``ninja`` is in INSTALLED_APPS for
    its static files), with the CSP nonce on its scripts: no CDN, works offline."""

    template = "api/docs.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        config = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
            "validatorUrl": None,  # Swagger UI would ask validator.swagger.io by default
        }
        context = {
            "api": api,
            "swagger_settings": config,
            "add_csrf": request.user.is_authenticated,
        }
        return render(request, self.template, context)


class CaredeskAPI(NinjaAPI):
    _openapi_cache: dict[str, Any]

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        # Built once per process: the document only changes with the code.
        cache = self.__dict__.setdefault("_openapi_cache", {})
        key = repr((path_prefix, sorted((path_params or {}).items())))
        if key not in cache:
            schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            cache[key] = openapi.finish(schema)
        return cache[key]

    def get_openapi_operation_id(self, operation) -> str:
        # Every operation names its operationId; this is the fallback: camelCase.
        first, *rest = operation.view_func.__name__.split("_")
        return first + "".join(word.title() for word in rest)


def limit_body_size(run):
    """Refuse a body over the size limit from its Content-Length, before reading it:
    JSON at most API_JSON_MAX_BYTES, multipart the attachments' limits plus that."""

    @wraps(run)
    def wrapper(request: HttpRequest, *args, **kwargs):
        length = declared_length(request)
        limit = settings.API_JSON_MAX_BYTES
        if request.content_type == "multipart/form-data":
            limit += settings.ATTACHMENT_MAX_BYTES * settings.ATTACHMENTS_PER_MESSAGE
        if length > limit:
            return errors.problem_response(
                request, 413, f"The request body is too large (at most {limit} bytes)."
            )
        return run(request, *args, **kwargs)

    return wrapper


api = CaredeskAPI(
    title="caredesk API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    throttle=[ApiRateLimit()],
    docs=OfflineDocs(),
)
errors.install(api)
api.add_decorator(limit_body_size, mode="view")
api.add_router("/auth", accounts_router)
api.add_router("", tickets_router)
