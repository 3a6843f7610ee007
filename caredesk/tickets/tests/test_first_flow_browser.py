"""The whole first flow in a real Chromium: a requester submits a ticket with a
screenshot; an agent claims it, categorizes it as a question and replies; the requester
sees the reply and marks the ticket solved."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from caredesk.conftest import PASSWORD, PNG_BYTES, watch_errors
from caredesk.tickets.choices import Category, Status
from caredesk.tickets.models import Ticket

pytestmark = pytest.mark.browser


def _sign_in(browser: Browser, live_server, email: str) -> tuple[Page, list[str]]:
    page = browser.new_context().new_page()
    problems = watch_errors(page)
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    return page, problems


def test_requester_agent_requester(live_server, browser: Browser, alice, agent):
    # The requester submits a ticket with a screenshot.
    requester, requester_problems = _sign_in(browser, live_server, alice.email)
    requester.goto(live_server.url + reverse("portal:new"))
    requester.get_by_label("Subject").fill("Volunteer list stays empty")
    requester.get_by_label("What were you trying to do?").fill("Add a volunteer to my agency")
    requester.get_by_label("What did you expect to happen?").fill("The volunteer is listed")
    requester.get_by_label("What actually happened?").fill("The list stays empty")
    requester.get_by_label("References").fill("Request ID 7f3a-22")
    requester.get_by_label("Screenshots and files").set_input_files(
        {"name": "screenshot.png", "mimeType": "image/png", "buffer": PNG_BYTES}
    )
    requester.get_by_role("button", name="Send ticket").click()
    expect(
        requester.get_by_role("heading", name=re.compile("Volunteer list stays empty"))
    ).to_be_visible()
    ticket = Ticket.objects.get(subject="Volunteer list stays empty")
    assert ticket.attachments.get().filename == "screenshot.png"

    # The agent finds it in the unclaimed queue, claims, categorizes and replies.
    desk, desk_problems = _sign_in(browser, live_server, agent.email)
    desk.goto(live_server.url + reverse("agent:queue"))
    desk.get_by_role("link", name=re.compile("Volunteer list stays empty")).click()
    expect(desk.get_by_role("link", name="screenshot.png")).to_be_visible()
    desk.get_by_role("button", name="Claim this ticket").click()
    expect(desk.get_by_text("You claimed")).to_be_visible()
    desk.get_by_label("Category").select_option(Category.QUESTION)
    desk.get_by_role("button", name="Categorize").click()
    expect(desk.get_by_text("Categorized as question")).to_be_visible()
    desk.get_by_label("Message").fill("Please refresh the page: the list updates every minute.")
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text("Please refresh the page").first).to_be_visible()

    # The requester sees the reply and marks the ticket solved.
    requester.reload()
    expect(requester.get_by_text("Please refresh the page: the list updates")).to_be_visible()
    requester.once("dialog", lambda dialog: dialog.accept())
    requester.get_by_role("button", name="Mark as solved").click()
    expect(requester.get_by_text("Solved").first).to_be_visible()

    ticket.refresh_from_db()
    assert (ticket.status, ticket.category, ticket.assignee) == (
        Status.SOLVED,
        Category.QUESTION,
        agent,
    )
    assert ticket.first_response_at is not None
    assert requester_problems == [] and desk_problems == []
