"""The browser harness works: Debian's Chromium, driven by Playwright, against live_server."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_login_page_renders_in_a_real_browser(live_server, page: Page):
    problems: list[str] = []

    def on_console(msg) -> None:
        # Chromium asks for /favicon.ico on its own; the page does not link one.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(live_server.url + reverse("login"))

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_visible()
    assert problems == []  # no CSP violation, no script error, no missing asset
