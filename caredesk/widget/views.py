"""The support widget: ``/widget.js`` for host pages, and the form inside its iframe.

The form is a caredesk page that only the configured sites may frame. Its POST carries a
signed form token instead of Django's CSRF cookie (a third-party iframe never receives a
SameSite=Lax cookie); see docs/widget.md for the reasoning. Views stay thin: the ticket is
made by ``tickets.lifecycle.create_ticket`` like on every other channel.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import lru_cache, wraps
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.timesince import timeuntil
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import condition, require_http_methods, require_POST

from caredesk.accounts.models import Organization, User
from caredesk.core import ratelimit
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel

from . import checks
from .forms import WidgetForm
from .tokens import (
    FormTokenExpired,
    FormTokenInvalid,
    WidgetUser,
    check_form_token,
    make_form_token,
    verify_user_token,
)

SCRIPT = Path(__file__).parent / "static" / "widget" / "embed.js"
CONFIG_MARKER = "{}/*caredesk-config*/"
URL_MAX = 2000
HONEYPOT = "leave_empty"


# ---------------------------------------------------------------- /widget.js


def _launcher_config() -> str:
    return json.dumps(
        {
            "color": settings.CAREDESK_WIDGET_COLOR,
            "text": settings.CAREDESK_WIDGET_TEXT,
            "position": settings.CAREDESK_WIDGET_POSITION,
            "formPath": reverse("widget:form"),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


@lru_cache(maxsize=4)
def _script(config: str) -> tuple[bytes, str]:
    """The launcher with this deployment's defaults filled in, and its ETag."""
    body = SCRIPT.read_text(encoding="utf-8").replace(CONFIG_MARKER, config, 1).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def _script_etag(request: HttpRequest) -> str:
    return _script(_launcher_config())[1]


@gzip_page
@require_http_methods(["GET", "HEAD"])
@condition(etag_func=_script_etag)
def widget_js(request: HttpRequest) -> HttpResponse:
    """The one-line embed's stable URL. Small enough to send whole: no redirect to a
    hashed file (one round trip less on every host page); gzip and an ETag instead."""
    body, _ = _script(_launcher_config())
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # Host pages revalidate every ten minutes (a 304 thanks to the ETag) so a new
    # version reaches them soon; a stale copy may serve for a day while revalidating.
    response["Cache-Control"] = "public, max-age=600, stale-while-revalidate=86400"
    # Public and static: loadable with crossorigin/SRI and from pages with COEP, and its
    # size visible to the host page's Resource Timing (transferSize).
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Timing-Allow-Origin"] = "*"
    return response


# ---------------------------------------------------------------- the iframe pages


def frame_policy() -> dict:
    """The site CSP, except that the configured sites may frame the page and thumbnails
    of not yet uploaded screenshots (blob: URLs) may show."""
    policy = dict(settings.SECURE_CSP)
    policy["frame-ancestors"] = [CSP.SELF, *checks.allowed_origins()]
    policy["img-src"] = [*policy.get("img-src", [CSP.SELF]), "blob:"]
    return policy


def frameable(view):
    """Exempt from X-Frame-Options: DENY; CSP frame-ancestors names who may frame it.
    The policy is read per request, so it follows the settings."""

    @xframe_options_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return csp_override(frame_policy())(view)(request, *args, **kwargs)

    return wrapped


def _http_url(value: str) -> str:
    value = (value or "").strip()
    if len(value) > URL_MAX:
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _origin_of(url: str) -> str:
    url = _http_url(url)
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _context_fields(data) -> dict:
    """The hidden fields the iframe script fills from widget.js, validated for echoing."""
    host_origin = data.get("host_origin", "")
    accent = data.get("accent", "")
    return {
        "page_url": _http_url(data.get("page_url", "")),
        "host_origin": host_origin if _origin_of(host_origin) == host_origin else "",
        "accent": accent if checks.valid_color(accent) else "",
        "user_token": "",
    }


def _render_form(
    request: HttpRequest,
    form: WidgetForm,
    *,
    referrer_origin: str,
    fields: dict,
    notice: str = "",
    identity_failed: bool = False,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "widget/form.html",
        {
            "form": form,
            "form_token": make_form_token(referrer_origin),
            "fields": fields,
            "identity": form.identity,
            "identity_failed": identity_failed,
            "notice": notice,
            "honeypot": HONEYPOT,
            "identity_url": reverse("widget:identity"),
        },
        status=status,
    )


@csrf_exempt  # the signed form token does this job here: see docs/widget.md
@never_cache
@frameable
@require_http_methods(["GET", "POST"])
def form(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # The Referer of the iframe's first request is the host page (its origin, under
        # the default referrer policy); the form token keeps it for the submission.
        origin = _origin_of(request.META.get("HTTP_REFERER", ""))
        return _render_form(
            request, WidgetForm(), referrer_origin=origin, fields=_context_fields({})
        )
    return _submit(request)


def _submit(request: HttpRequest) -> HttpResponse:
    fields = _context_fields(request.POST)
    raw_token = request.POST.get("user_token", "")
    identity = verify_user_token(raw_token)
    if identity is not None:
        fields["user_token"] = raw_token
    form = WidgetForm(request.POST, request.FILES, identity=identity)
    try:
        claims = check_form_token(request.POST.get("form_token", ""))
    except FormTokenExpired as expired:
        # Keep what they typed (files cannot be put back by any server) with a new token.
        return _render_form(
            request,
            _unbound_copy(form),
            referrer_origin=_origin_of(expired.claims.get("o", "")),
            fields=fields,
            notice="This form was open for a long time, so we could not accept it yet. "
            "Please check your answers, add any screenshots again and send it once more.",
            status=400,
        )
    except FormTokenInvalid:
        return render(request, "widget/refused.html", status=403)
    referrer_origin = _origin_of(claims.get("o", ""))

    if request.POST.get(HONEYPOT):
        # A robot filled the field that people leave empty: look pleased, keep nothing.
        return render(request, "widget/sent.html", {"ticket": None, "fields": fields})

    def again(status: int, **kw) -> HttpResponse:
        return _render_form(
            request,
            form,
            referrer_origin=referrer_origin,
            fields=fields,
            identity_failed=bool(raw_token) and identity is None,
            status=status,
            **kw,
        )

    if not form.is_valid():
        return again(400)
    email = identity.email if identity else form.cleaned_data["email"].lower()
    if identity is None and not _within_rate_limit(request, email):
        form.add_error(
            None,
            "You have sent several requests in a short time, so we cannot take another "
            f"one right now. Please try again within {_window_text()}, or write to us at "
            f"{settings.CAREDESK_SUPPORT_ADDRESSES[0]}.",
        )
        return again(429)
    context = {
        "page_url": fields["page_url"],
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
        "referrer_origin": referrer_origin,
        "identity": "signed token" if identity else "email (unverified)",
    }
    try:
        with transaction.atomic():  # a refused upload leaves no new user behind either
            requester = _requester(identity, email, form.cleaned_data["name"])
            ticket = lifecycle.create_ticket(
                requester=requester,
                subject=form.cleaned_data["subject"],
                channel=Channel.WIDGET,
                fields=form.guided_fields(),
                uploads=form.cleaned_data["screenshots"],
                client_context=context,
            )
    except lifecycle.TransitionError as err:
        form.add_error(None, str(err))
        return again(400)
    return render(
        request,
        "widget/sent.html",
        {
            "ticket": ticket,
            "email": requester.email,
            "fields": fields,
            "new_account": not requester.has_usable_password(),
        },
    )


def _unbound_copy(form: WidgetForm) -> WidgetForm:
    """A fresh form showing what was typed, without the errors of the refused attempt."""
    initial = {name: form.data.get(name, "") for name in form.fields if name != "screenshots"}
    return WidgetForm(initial=initial, identity=form.identity)


def _window_text() -> str:
    window = timedelta(seconds=settings.CAREDESK_WIDGET_RATE_WINDOW)
    now = timezone.now()
    return timeuntil(now + window, now)


def _within_rate_limit(request: HttpRequest, email: str) -> bool:
    return ratelimit.hit_person_and_client(
        "widget",
        request,
        email,
        limit=settings.CAREDESK_WIDGET_RATE_LIMIT_EMAIL,
        client_limit=settings.CAREDESK_WIDGET_RATE_LIMIT_IP,
        window=settings.CAREDESK_WIDGET_RATE_WINDOW,
    )


def _requester(identity: WidgetUser | None, email: str, name: str) -> User:
    """The platform user named by the signed token, or the person who gave an email.
    New people get an unusable password: "forgot password" lets them into the portal."""
    name = (identity.name if identity else name).strip()[:200]
    user = User.objects.requester(email, name)
    changed = []
    if identity is not None:
        # The host app vouches for these; fill gaps, never overwrite what caredesk knows.
        if name and not user.name:
            user.name = name
            changed.append("name")
        if identity.org and user.organization_id is None:
            org = Organization.objects.filter(name__iexact=identity.org).first()
            if org is not None:
                user.organization = org
                changed.append("organization")
    if changed:
        user.save(update_fields=changed)
    return user


@csrf_exempt  # answers a question about a token the caller already holds; changes nothing
@never_cache
@require_POST
def identity(request: HttpRequest) -> JsonResponse:
    """Whether a user token is valid now, so the form can skip the email question."""
    user = verify_user_token(request.POST.get("user_token", ""))
    if user is None:
        return JsonResponse({"ok": False})
    return JsonResponse({"ok": True, "display": user.display})
