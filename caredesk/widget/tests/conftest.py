"""Widget test helpers: a configured secret and embedder, a form token, a valid POST."""

from __future__ import annotations

import re

import pytest

from caredesk.widget.tokens import make_form_token

SECRET = "test-widget-secret-0123456789abcdef-xyz"
HOST = "https://app.example.org"


@pytest.fixture(autouse=True)
def _widget_settings(settings):
    settings.CAREDESK_WIDGET_SECRET = SECRET
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = [HOST, "https://*.partner.example"]


def form_token_from(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def form_data(db):
    """form_data(**overrides) -> a complete anonymous submission (without files)."""

    def make(**overrides):
        data = {
            "form_token": make_form_token(HOST),
            "page_url": f"{HOST}/agencies/42/volunteers?tab=new",
            "host_origin": HOST,
            "accent": "",
            "user_token": "",
            "leave_empty": "",
            "email": "Newcomer@Example.org",
            "name": "Nia Newcomer",
            "subject": "Volunteer list is empty",
            "trying_to_do": "Add a volunteer to my agency",
            "expected": "The volunteer appears in the list",
            "actual": "An error page with Request ID 7f3a",
            "references": "req-7f3a",
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def client():
    """Like a browser in a third-party iframe: CSRF checks on, and no CSRF cookie."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)
