"""The widget's settings, validated: at startup (system checks) and where they are used."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import checks

COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
POSITIONS = ("bottom-right", "bottom-left")
TEXT_MAX = 40
# A CSP source expression for a site: scheme://host[:port], the host may start with "*.".
ORIGIN = re.compile(r"https?://(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?")


def valid_color(value: str) -> bool:
    return bool(COLOR.fullmatch(value or ""))


def valid_origin(value: str) -> bool:
    return bool(ORIGIN.fullmatch(value or ""))


def allowed_origins() -> list[str]:
    """The configured embedders; anything malformed is dropped (and reported by check)."""
    return [o for o in settings.CAREDESK_WIDGET_ALLOWED_ORIGINS if valid_origin(o)]


@checks.register()
def check_widget_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for origin in settings.CAREDESK_WIDGET_ALLOWED_ORIGINS:
        if not valid_origin(origin):
            errors.append(
                checks.Error(
                    f"CAREDESK_WIDGET_ALLOWED_ORIGINS: {origin!r} is not an origin such as "
                    "https://app.example.org (no path, no trailing slash, lowercase).",
                    id="widget.E001",
                )
            )
    if not valid_color(settings.CAREDESK_WIDGET_COLOR):
        errors.append(
            checks.Error(
                f"CAREDESK_WIDGET_COLOR must be #rgb or #rrggbb, not "
                f"{settings.CAREDESK_WIDGET_COLOR!r}.",
                id="widget.E002",
            )
        )
    if settings.CAREDESK_WIDGET_POSITION not in POSITIONS:
        errors.append(
            checks.Error(
                f"CAREDESK_WIDGET_POSITION must be one of {', '.join(POSITIONS)}.",
                id="widget.E003",
            )
        )
    text = settings.CAREDESK_WIDGET_TEXT
    if not text.strip() or len(text) > TEXT_MAX:
        errors.append(
            checks.Error(
                f"CAREDESK_WIDGET_TEXT must be 1 to {TEXT_MAX} characters.", id="widget.E004"
            )
        )
    secret = settings.CAREDESK_WIDGET_SECRET
    if secret and len(secret) < 32:
        errors.append(
            checks.Warning(
                "CAREDESK_WIDGET_SECRET is shorter than 32 characters; use a long random "
                "value (python -c 'import secrets; print(secrets.token_urlsafe(32))').",
                id="widget.W001",
            )
        )
    return errors
