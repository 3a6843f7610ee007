from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in support staff only; anyone else signed in gets 404 (the workspace's
    existence is not a secret, but its pages are not theirs)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_agent:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Support Managers (and admins) only; others signed in get 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_manager:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
