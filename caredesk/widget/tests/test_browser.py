"""The widget in a real browser: a page on a second origin embeds it with one line, a
requester sends a ticket with a pasted screenshot, and an agent finds it in the workspace.

The host page is served by a plain http.server on 127.0.0.1 while caredesk (live_server)
answers on localhost: another origin and even another site, so the form runs as a
third-party iframe exactly as on a customer's platform (no SameSite=Lax cookies in it).
"""

from __future__ import annotations

import base64
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from caredesk.conftest import PASSWORD, PNG_BYTES, watch_errors
from caredesk.tickets.choices import Channel
from caredesk.tickets.models import Ticket
from caredesk.widget.tokens import sign_user_token

pytestmark = pytest.mark.browser

# A host page with a strict CSP of its own (no inline script or style allowed) and
# hostile CSS: neither may break the launcher, which lives in a shadow root.
HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="Content-Security-Policy"
        content="default-src 'self'; script-src 'self' {desk}; frame-src {desk}; style-src 'self'">
  <title>Volunteer platform</title>
  <link rel="stylesheet" href="/host.css">
</head>
<body>
  <h1>Volunteers of Acme Network</h1>
  <p><a href="#list" id="host-link">A link on the host page</a></p>
  <script src="{desk}/widget.js" data-caredesk async
          data-text="Need help?" data-color="#ffcc00"></script>
</body>
</html>
"""
HOST_CSS = "button { display: none !important; } * { font-family: serif; color: red; }"

# Paste a PNG the way a browser does: a paste event whose clipboardData holds a File.
PASTE_JS = """(b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "image.png", { type: "image/png" }));
  const event = new ClipboardEvent(
    "paste", { clipboardData: data, bubbles: true, cancelable: true });
  document.querySelector("#id_actual").dispatchEvent(event);
  return event.defaultPrevented;
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def host_site(live_server, tmp_path, settings):
    """A second origin serving a page that embeds the widget; it may frame the form."""
    (tmp_path / "index.html").write_text(HOST_PAGE.replace("{desk}", live_server.url))
    (tmp_path / "host.css").write_text(HOST_CSS)
    (tmp_path / "favicon.ico").write_bytes(PNG_BYTES)  # the browser asks the host for one
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = [origin]
    yield origin
    server.shutdown()
    server.server_close()


def test_a_requester_sends_a_ticket_with_a_pasted_screenshot_and_an_agent_sees_it(
    live_server, host_site, page: Page, agent
):
    problems = watch_errors(page)
    page.goto(f"{host_site}/index.html?tab=volunteers")

    launcher = page.get_by_role("button", name="Need help?")
    expect(launcher).to_be_visible()  # the host's "button { display: none }" cannot reach it
    # Small: what the host page's visitors download for the launcher (a budget, gzip).
    sizes = page.evaluate(
        "(url) => { const [e] = performance.getEntriesByName(url);"
        " return [e.transferSize, e.encodedBodySize, e.decodedBodySize]; }",
        f"{live_server.url}/widget.js",
    )
    print("widget.js transferSize, encodedBodySize, decodedBodySize:", sizes)
    assert 0 < sizes[1] < 4096 < sizes[2]
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_have_attribute("aria-haspopup", "dialog")

    launcher.click()

    expect(launcher).to_have_attribute("aria-expanded", "true")
    dialog = page.get_by_role("dialog", name="Need help?")
    expect(dialog).to_be_visible()
    form = page.frame_locator("iframe[title='Support request form']")
    email = form.get_by_label("Your email address")
    expect(email).to_be_focused()  # focus moved into the form

    email.fill("Newcomer@Example.org")
    form.get_by_label("Subject").fill("Cannot add a volunteer from the widget")
    form.get_by_label("What were you trying to do?").fill("Add a volunteer to my agency")
    form.get_by_label("What did you expect to happen?").fill("The volunteer appears in the list")
    form.get_by_label("What actually happened?").fill("An error page with Request ID 7f3a")
    form.get_by_label("References").fill("req-7f3a, https://app.example.org/volunteers")

    frame = next(f for f in page.frames if "/widget/form/" in f.url)
    assert frame.evaluate(PASTE_JS, base64.b64encode(PNG_BYTES).decode()) is True

    remove = form.get_by_role("button", name="Remove pasted-screenshot-1.png")
    expect(remove).to_be_visible()
    expect(form.get_by_role("img", name="Screenshot 1: pasted-screenshot-1.png")).to_be_visible()
    expect(form.get_by_role("status")).to_have_text(
        "Added pasted-screenshot-1.png. 1 screenshot attached."
    )

    form.get_by_role("button", name="Send request").click()

    heading = form.get_by_role("heading", name=re.compile(r"Ticket #\d+ received"))
    expect(heading).to_be_visible()
    expect(heading).to_be_focused()
    expect(form.get_by_text("A support agent answers within one business day.")).to_be_visible()
    expect(form.get_by_text("newcomer@example.org")).to_be_visible()
    number = int(re.search(r"#(\d+)", heading.inner_text()).group(1))

    ticket = Ticket.objects.get(pk=number)
    assert ticket.channel == Channel.WIDGET
    assert ticket.requester.email == "newcomer@example.org"
    assert ticket.client_context["page_url"] == f"{host_site}/index.html?tab=volunteers"
    assert ticket.client_context["referrer_origin"] == host_site
    assert "Chrome" in ticket.client_context["user_agent"]
    [shot] = ticket.attachments.all()
    assert (shot.filename, shot.content_type, shot.size) == (
        "pasted-screenshot-1.png",
        "image/png",
        len(PNG_BYTES),
    )

    # "Close" on the answer page closes the dialog and gives focus back to the launcher.
    form.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    # Opened again: a fresh form; Escape inside the iframe closes it too.
    launcher.click()
    expect(form.get_by_label("Subject")).to_have_value("")
    expect(form.get_by_label("Your email address")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    assert problems == []  # no CSP violation on either side, no script error

    # The agent, in the same browser, finds it in the unclaimed queue with the screenshot.
    desk = page.context.new_page()
    desk.goto(f"{live_server.url}/accounts/login/")
    desk.get_by_label("Email").fill(agent.email)
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    desk.goto(f"{live_server.url}/agent/")
    link = desk.get_by_role("link", name="Cannot add a volunteer from the widget")
    expect(link).to_be_visible()
    link.click()
    expect(desk.get_by_role("heading", name=f"#{number} Cannot add a volunteer")).to_be_visible()
    expect(desk.get_by_role("link", name="pasted-screenshot-1.png")).to_be_visible()


def test_the_dialog_is_modal_and_the_host_page_is_out_of_reach(live_server, host_site, page: Page):
    page.goto(f"{host_site}/index.html")
    launcher = page.get_by_role("button", name="Need help?")
    launcher.click()
    form = page.frame_locator("iframe[title='Support request form']")
    expect(form.get_by_label("Your email address")).to_be_focused()

    # Tab through everything in the form and past it: never onto the host page's link.
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") != "host-link"

    # The close button in the dialog's bar works from the keyboard as well.
    close = page.get_by_role("button", name="Close support form")
    close.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_a_signed_in_platform_user_is_not_asked_for_an_email(
    live_server, host_site, tmp_path, page: Page
):
    token = sign_user_token("dana@acme.test", "Dana Platform")
    page_html = HOST_PAGE.replace("{desk}", live_server.url).replace(
        "data-caredesk async", f'data-caredesk async data-user-token="{token}"'
    )
    (tmp_path / "signed.html").write_text(page_html)
    problems = watch_errors(page)
    page.goto(f"{host_site}/signed.html")

    page.get_by_role("button", name="Need help?").click()
    form = page.frame_locator("iframe[title='Support request form']")
    expect(form.get_by_text("Sending as Dana Platform (dana@acme.test)")).to_be_visible()
    expect(form.get_by_label("Your email address")).to_be_hidden()
    expect(form.get_by_label("Subject")).to_be_focused()
    form.get_by_label("Subject").fill("Export button does nothing")
    form.get_by_label("What were you trying to do?").fill("Export the volunteer list")
    form.get_by_label("What actually happened?").fill("Nothing at all")
    form.get_by_role("button", name="Send request").click()

    expect(form.get_by_role("heading", name=re.compile(r"Ticket #\d+ received"))).to_be_visible()
    ticket = Ticket.objects.get(subject="Export button does nothing")
    assert ticket.requester.email == "dana@acme.test"
    assert ticket.client_context["identity"] == "signed token"

    # Signed out on the host page while the form is open: the form closes at once (on a
    # shared computer nobody may go on sending in Dana's name); the next opening asks
    # for an email again.
    page.evaluate("window.CaredeskWidget.identify(null)")
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Need help?").click()
    expect(form.get_by_label("Your email address")).to_be_focused()
    expect(form.get_by_text("Sending as")).to_be_hidden()

    # Signed in while the form is open: what is typed stays; the next opening knows who
    # it is.
    form.get_by_label("Subject").fill("Half-typed")
    page.evaluate(f"window.CaredeskWidget.identify({token!r})")
    expect(form.get_by_label("Subject")).to_have_value("Half-typed")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Need help?").click()
    expect(form.get_by_text("Sending as Dana Platform (dana@acme.test)")).to_be_visible()
    assert problems == []
