"""The browser harness works: Debian's Chromium, driven by Playwright, against live_server."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from caredesk.conftest import watch_errors

pytestmark = pytest.mark.browser


def test_the_login_page_renders_in_a_real_browser(live_server, page: Page):
    problems = watch_errors(page)

    page.goto(live_server.url + reverse("login"))

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_visible()
    assert problems == []  # no CSP violation, no script error, no missing asset
