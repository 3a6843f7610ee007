"""The agent workspace in a real Chromium: htmx under the strict CSP (presence heartbeat,
typing signal, boosted queue filters), with no console error or CSP violation."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from caredesk.conftest import PASSWORD, watch_errors

pytestmark = pytest.mark.browser


def _signed_in(browser: Browser, live_server, user) -> tuple[Page, list[str]]:
    page = browser.new_context().new_page()
    problems = watch_errors(page)
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Workspace")).to_be_visible()
    return page, problems


def test_an_agent_sees_that_another_is_replying(
    live_server, browser: Browser, agent, agent2, ticket
):
    url = live_server.url + reverse("agent:ticket", args=[ticket.pk])
    other, other_problems = _signed_in(browser, live_server, agent2)
    with other.expect_response(lambda r: r.url.endswith("/presence/")):
        other.goto(url)  # the heartbeat says "viewing" as the page loads
    with other.expect_response(
        lambda r: r.url.endswith("/presence/") and "replying" in (r.request.post_data or "")
    ):
        other.get_by_label("Message").fill("Could you tell me which agency")

    me, problems = _signed_in(browser, live_server, agent)
    me.goto(url)
    expect(me.get_by_text("Agent2 is replying to this ticket right now.")).to_be_visible()

    # ... and Agent2's heartbeat learns that I am looking at it too.
    with other.expect_response(lambda r: r.url.endswith("/presence/")):
        other.get_by_label("Message").fill("Could you tell me which agency you use?")
    expect(other.get_by_text("Agent is viewing this ticket right now.")).to_be_visible()

    me.get_by_role("button", name="Claim this ticket").click()
    expect(me.get_by_text(f"You claimed #{ticket.pk}.")).to_be_visible()
    assert problems == [] and other_problems == []


def test_queue_filters_swap_the_workspace_in_place(
    live_server, browser: Browser, agent, alice, bob, make_ticket
):
    make_ticket(alice, "From the network")
    make_ticket(bob, "From the church")
    page, problems = _signed_in(browser, live_server, agent)
    page.goto(live_server.url + reverse("agent:queue"))
    expect(page.get_by_role("link", name="From the network")).to_be_visible()

    page.get_by_label("Organization").select_option("church")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"/agent/\?queue=unclaimed&org_kind=church$"))
    expect(page.get_by_role("link", name="From the church")).to_be_visible()
    expect(page.get_by_role("link", name="From the network")).to_have_count(0)

    page.get_by_role("link", name=re.compile("^Mine")).click()
    expect(page).to_have_url(re.compile(r"/agent/\?queue=mine&org_kind=church$"))
    expect(page.get_by_text("No tickets in this queue.")).to_be_visible()
    assert problems == []
