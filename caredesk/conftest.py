"""Shared fixtures: named people, as in Healthchecks' hc/test.py.

alice (requester, Acme Network) and bob (requester, Bethel Church) are in different
organizations; carol is alice's colleague; agent and agent2 work the queue; manager is
the Support Manager; dev is on the development team; eve is an outsider with no ticket.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from caredesk.accounts.choices import OrganizationKind, Role
from caredesk.accounts.models import Organization, User
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel

PASSWORD = "correct horse battery"

# A real 1x1 PNG: the browser test and attachment tests upload it as a "screenshot".
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2218bc40000000049454e44ae426082"
)


def pytest_collection_modifyitems(config, items):
    """Tests that need PostgreSQL's real concurrency run only in the PostgreSQL pass."""
    if django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    selected = [item for item in items if "postgres_only" not in item.keywords]
    deselected = [item for item in items if "postgres_only" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(autouse=True)
def _fast_and_private(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    if settings.MAIL_SPOOL:  # SQLite: each test its own (PostgreSQL uses none)
        settings.MAIL_SPOOL = str(tmp_path / "mail-spool.sqlite3")
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _user(email: str, role: str = Role.REQUESTER, org: Organization | None = None, **kw) -> User:
    return User.objects.create_user(
        email, PASSWORD, role=role, organization=org, name=email.split("@")[0].title(), **kw
    )


@pytest.fixture
def acme(db) -> Organization:
    return Organization.objects.create(name="Acme Network", kind=OrganizationKind.NETWORK)


@pytest.fixture
def bethel(db) -> Organization:
    return Organization.objects.create(name="Bethel Church", kind=OrganizationKind.CHURCH)


@pytest.fixture
def alice(acme) -> User:
    return _user("alice@acme.test", org=acme)


@pytest.fixture
def carol(acme) -> User:
    return _user("carol@acme.test", org=acme)


@pytest.fixture
def bob(bethel) -> User:
    return _user("bob@bethel.test", org=bethel)


@pytest.fixture
def eve(db) -> User:
    return _user("eve@outside.test")


@pytest.fixture
def agent(db) -> User:
    return _user("agent@caredesk.test", Role.AGENT)


@pytest.fixture
def agent2(db) -> User:
    return _user("agent2@caredesk.test", Role.AGENT)


@pytest.fixture
def manager(db) -> User:
    return _user("manager@caredesk.test", Role.MANAGER)


@pytest.fixture
def dev(db) -> User:
    return _user("dev@caredesk.test", Role.DEVELOPER)


def png_upload(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG_BYTES, content_type="image/png")


@pytest.fixture
def make_ticket(db):
    """make_ticket(requester, subject=..., channel=..., with_screenshot=False) -> Ticket"""

    def make(requester: User, subject: str = "Cannot add a volunteer", **kw):
        uploads = [png_upload()] if kw.pop("with_screenshot", False) else []
        return lifecycle.create_ticket(
            requester=requester,
            subject=subject,
            channel=kw.pop("channel", Channel.PORTAL),
            fields=lifecycle.GuidedFields(
                trying_to_do=kw.pop("trying_to_do", "Add a volunteer to my agency"),
                expected=kw.pop("expected", "The volunteer appears in the list"),
                actual=kw.pop("actual", "An error page with Request ID 7f3a"),
                references=kw.pop("references", "req-7f3a"),
            ),
            uploads=uploads,
            **kw,
        )

    return make


@pytest.fixture
def ticket(alice, make_ticket):
    return make_ticket(alice)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# ---------------------------------------------------------------- browser tests (Playwright)
# pytest-playwright cannot download its own browser here, and --browser-channel cannot
# point at Debian's build: launch /usr/bin/chromium (CAREDESK_CHROMIUM overrides) directly.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_configure(config):
    # Playwright's sync API keeps an asyncio loop in the main thread for the whole session,
    # which trips Django's async-safety check on every ORM call that follows, including
    # live_server's and fixtures' own. Browser tests need this; set it before any of them.
    import os

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser(browser):
    """pytest-playwright's browser; when the session ends, the database connections opened
    since it started are closed. Playwright's sync API runs the session from then on in
    a greenlet with context variables of its own, so Django's connections there are other
    objects than before, and the test database's teardown (outside it) would not close
    them: PostgreSQL then refuses to drop the database ("being accessed by other
    users")."""
    yield browser
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    import os

    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CAREDESK_CHROMIUM", "/usr/bin/chromium"),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def base_url() -> None:
    """Playwright's pages are always given whole URLs here (``live_server.url``). Defined
    so that pytest-playwright's own fallback, written as a method (deprecated by pytest
    9.2), is not used."""
    return None


def watch_errors(page) -> list[str]:
    """Collect a page's console errors (CSP violations, missing assets, failed requests)
    and uncaught script errors; a browser test ends by asserting the list is empty."""
    problems: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error":
            problems.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


@pytest.fixture(autouse=True)
def _close_leftover_browser_contexts(request):
    """Close browser contexts a test opened itself (``browser.new_context()``) and left
    open. The browser lives for the whole session, so their pages would go on polling the
    session-wide live_server (htmx heartbeats) during later tests, racing them for the
    in-memory SQLite connection that live_server shares ("database table is locked")."""
    browser = request.getfixturevalue("browser") if "browser" in request.fixturenames else None
    yield
    if browser is not None:
        for context in list(browser.contexts):
            context.close()


# ---------------------------------------------------------------- pytest-xdist safety
def _utf8_safe(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    """pytest-xdist ships each report to the controller through execnet, which refuses
    strings with lone surrogates (text decoded with ``surrogateescape``, e.g. 8-bit SMTP
    commands that aiosmtpd logs): the worker would die with an INTERNALERROR. Escape
    them (visibly, as ``\\udcf6``) before xdist serializes the report."""
    report.sections = [(title, _utf8_safe(text)) for title, text in report.sections]
    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if _utf8_safe(text) != text:
            report.longrepr = _utf8_safe(text)
