"""/api/v1/: the API's routes, each answering every failure as problem+json — including
what ninja answers in its own way (405 as text) or not at all (an unknown path, an
exception outside an operation)."""

from __future__ import annotations

from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path

from . import errors
from .api import api


def _uniform(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return errors.problem_response(request, 404, "Not found.")
        except Exception as exc:  # the 500 of last resort, logged there
            return errors.on_unexpected(request, exc)
        if response.status_code == 405 and not errors.is_problem(response):
            return errors.problem_response(
                request,
                405,
                f"{request.method} is not allowed here.",
                headers={"Allow": response["Allow"]},
            )
        return response

    wrapper.csrf_exempt = True  # the API's own auth checks CSRF for session users
    return wrapper


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return errors.problem_response(request, 404, "There is no such API endpoint.")


_patterns, _app_name, _namespace = api.urls
for _pattern in _patterns:
    _pattern.callback = _uniform(_pattern.callback)

urlpatterns = [
    path("", include((_patterns, _app_name), namespace=_namespace)),
    re_path(r"^(?P<rest>.*)$", _uniform(not_found)),
]
