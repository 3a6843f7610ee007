"""The API docs page in a real browser: Swagger UI from our own static files, no CSP
violation, the operations listed."""

import pytest
from playwright.sync_api import Page, expect

from caredesk.conftest import watch_errors

pytestmark = pytest.mark.browser


def test_the_docs_page_renders_offline_under_the_csp(live_server, page: Page):
    problems = watch_errors(page)
    outside: list[str] = []

    def on_request(request) -> None:
        if not request.url.startswith(live_server.url) and not request.url.startswith("data:"):
            outside.append(request.url)

    page.on("request", on_request)

    page.goto(live_server.url + "/api/v1/docs")

    expect(page.get_by_text("Open a ticket").first).to_be_visible()
    expect(page.get_by_text("Claim a ticket").first).to_be_visible()
    assert outside == []  # nothing fetched from anywhere but this server
    assert problems == []  # no CSP violation, no script error, no missing asset
