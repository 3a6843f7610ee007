"""Outgoing email through a provider's HTTP API (django-anymail): what each failure does to
the outbox row, and the provider's settings from the environment.

The provider is the edge of the world. Most tests use ``ProviderStub``, a mail backend that
raises the real anymail exception classes, built the way anymail builds them (with the
provider's HTTP answer); a few run the real anymail backends against a tiny HTTP server on
the loopback interface. Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from caredesk import settings as caredesk_settings
from caredesk.conftest import PASSWORD
from caredesk.core.tests import subprocesses
from caredesk.mail.outbound import compose_acknowledgements
from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.outbox.services import MAX_ATTEMPTS, backoff, deliver_due, enqueue_email

MAILGUN = "anymail.backends.mailgun.EmailBackend"
POSTMARK = "anymail.backends.postmark.EmailBackend"

POSTMARK_INACTIVE = (
    "You tried to send to a recipient that has been marked as inactive.\n"
    "Found inactive addresses: alice@acme.test.\n"
    "Inactive recipients are ones that have generated a hard bounce or a spam complaint. "
)


# ---------------------------------------------------------------- the stand-in provider
class ProviderStub(LocmemBackend):
    """A provider backend: raises what ``REFUSALS`` holds for a recipient (a callable is
    called, so each send gets a fresh exception), else "sends" into ``mail.outbox``."""

    REFUSALS: dict[str, object] = {}

    def send_messages(self, messages):
        for message in messages:
            for recipient in message.recipients():
                if refusal := self.REFUSALS.get(recipient):
                    raise refusal() if callable(refusal) else refusal
        return super().send_messages(messages)


@pytest.fixture
def provider(settings):
    """provider["alice@acme.test"] = exception (or factory): the provider's answer for it."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ProviderStub"}}
    ProviderStub.REFUSALS = {}
    yield ProviderStub.REFUSALS
    ProviderStub.REFUSALS = {}


def _response(status: int, body: dict) -> requests.Response:
    """An HTTP answer from the provider, as requests hands it to anymail."""
    response = requests.Response()
    response.status_code = status
    response.reason = HTTPStatus(status).phrase
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(body).encode()
    return response


def _api_error(status: int, body: dict, esp: str = "Mailgun") -> AnymailRequestsAPIError:
    """What anymail raises for a non-2xx answer (AnymailRequestsBackend.raise_for_status)."""
    return AnymailRequestsAPIError(response=_response(status, body), esp_name=esp)


def _network_error() -> AnymailRequestsAPIError:
    """What anymail raises when the request got no answer (post_to_esp): an
    AnymailRequestsAPIError that is also the requests exception, without a status."""
    cause = requests.ConnectionError("Max retries exceeded (Connection refused)")
    kind = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, requests.ConnectionError), {})
    try:
        raise kind("Error posting to https://api.mailgun.net/v3/x/messages:") from cause
    except AnymailRequestsAPIError as exc:
        return exc


def _email(to: str = "alice@acme.test", subject: str = "Re: [#12] Cannot add a volunteer"):
    return enqueue_email([to], subject, "We fixed it.", ref="ticket:12")


def _reload(email: OutboundEmail) -> OutboundEmail:
    email.refresh_from_db()
    return email


# ---------------------------------------------------------------- failures retrying cannot fix
def test_a_refused_recipient_fails_at_once_and_shows_on_the_ticket(
    db, client, agent, ticket, provider
):
    provider["alice@acme.test"] = lambda: AnymailRecipientsRefused(
        response=_response(422, {"ErrorCode": 406, "Message": POSTMARK_INACTIVE}),
        esp_name="Postmark",
    )
    compose_acknowledgements()
    ack = OutboundEmail.objects.get(ref=f"ticket:{ticket.pk}")  # the portal acknowledgement

    assert deliver_due() == 0

    ack = _reload(ack)
    assert ack.status == DeliveryStatus.FAILED
    assert ack.attempts == 1
    assert ack.leased_until is None
    assert ack.last_error.startswith("AnymailRecipientsRefused: ")
    assert "marked as inactive" in ack.last_error
    assert "Postmark answered 422" in ack.last_error
    assert mail.outbox == []

    # Not retried.
    OutboundEmail.objects.filter(pk=ack.pk).update(next_attempt_at=timezone.now())
    assert deliver_due() == 0
    assert _reload(ack).attempts == 1

    client.login(username=agent.email, password=PASSWORD)
    page = client.get(f"/agent/tickets/{ticket.pk}/").text
    assert "could not be delivered" in page
    assert "marked as inactive" in page


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        pytest.param(
            lambda: AnymailInvalidAddress("Invalid email address 'alice@acme'"),
            "Invalid email address",
            id="invalid-address",
        ),
        pytest.param(
            lambda: _api_error(400, {"message": "'to' parameter is not a valid address."}),
            "not a valid address",
            id="400",
        ),
        pytest.param(
            lambda: _api_error(404, {"message": "Domain not found: mg.acme.test"}),
            "Domain not found",
            id="404",
        ),
    ],
)
def test_a_failure_that_cannot_pass_on_retry_fails_at_once(db, provider, refusal, reason):
    provider["alice@acme.test"] = refusal
    email = _email()

    assert deliver_due() == 0

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == 1
    assert reason in email.last_error


def test_a_provider_backend_without_its_key_is_retried_and_says_which(db, settings):
    """The setup's fault, not the message's: the mail waits for an operator to fix it."""
    # The real anymail backend, configured with no server token: it refuses to start.
    settings.MAILERS = {"default": {"BACKEND": POSTMARK}}
    email = _email()

    assert deliver_due() == 0

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert "server_token" in email.last_error


# ---------------------------------------------------------------- failures worth retrying
@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        pytest.param(
            lambda: _api_error(500, {"message": "Internal Server Error"}), "500", id="500"
        ),
        pytest.param(lambda: _api_error(503, {"message": "Service Unavailable"}), "503", id="503"),
        pytest.param(
            lambda: _api_error(429, {"message": "Too many requests"}), "Too many", id="429"
        ),
        pytest.param(lambda: _api_error(408, {"message": "Request timeout"}), "timeout", id="408"),
        pytest.param(
            lambda: _api_error(401, {"message": "Invalid private key"}),
            "Invalid private key",
            id="401-a-key-to-fix",
        ),
        pytest.param(lambda: _api_error(403, {"message": "Account on hold"}), "on hold", id="403"),
        pytest.param(
            lambda: AnymailConfigurationError("You must set MAILGUN_API_KEY"),
            "MAILGUN_API_KEY",
            id="configuration",
        ),
        pytest.param(_network_error, "Connection refused", id="no-answer"),
    ],
)
def test_a_failure_that_may_pass_later_is_retried_with_backoff(db, provider, refusal, reason):
    provider["alice@acme.test"] = refusal
    email = _email()
    before = timezone.now()

    assert deliver_due() == 0

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert email.leased_until is None
    assert reason in email.last_error
    assert email.next_attempt_at >= before + backoff(1)

    # Due again: the second attempt waits longer.
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    before = timezone.now()
    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 2
    assert email.next_attempt_at >= before + backoff(2)


def test_a_retried_failure_succeeds_once_the_provider_recovers(db, provider):
    provider["alice@acme.test"] = lambda: _api_error(503, {"message": "Service Unavailable"})
    email = _email()
    deliver_due()
    del provider["alice@acme.test"]
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())

    assert deliver_due() == 1

    email = _reload(email)
    assert email.status == DeliveryStatus.SENT
    assert email.attempts == 2
    assert email.last_error == ""
    assert [m.to for m in mail.outbox] == [["alice@acme.test"]]


def test_a_retried_failure_fails_after_the_last_attempt(db, provider):
    provider["alice@acme.test"] = lambda: _api_error(503, {"message": "Service Unavailable"})
    email = _email()
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=MAX_ATTEMPTS - 1)

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == MAX_ATTEMPTS
    assert "503" in email.last_error


# ---------------------------------------------------------------- what nobody foresaw
def test_an_unexpected_exception_is_retried_and_the_sweep_goes_on(db, provider):
    provider["crash@acme.test"] = lambda: RuntimeError("the provider library tripped")
    crashing = _email(to="crash@acme.test", subject="first")
    fine = _email(subject="second")
    OutboundEmail.objects.filter(pk=crashing.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=1)  # first in the sweep
    )
    before = timezone.now()

    assert deliver_due() == 1

    assert [m.subject for m in mail.outbox] == ["second"]
    assert _reload(fine).status == DeliveryStatus.SENT
    crashing = _reload(crashing)
    assert crashing.status == DeliveryStatus.PENDING
    assert crashing.attempts == 1
    assert crashing.leased_until is None
    assert crashing.last_error == "RuntimeError: the provider library tripped"
    assert crashing.next_attempt_at >= before + backoff(1)


def test_an_unexpected_exception_fails_after_the_last_attempt(db, provider):
    provider["crash@acme.test"] = lambda: RuntimeError("still tripping")
    email = _email(to="crash@acme.test")
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=MAX_ATTEMPTS - 1)

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == MAX_ATTEMPTS
    assert "still tripping" in email.last_error


# ---------------------------------------------------------------- real backends, loopback API
class FakeAPI:
    """A provider API on loopback answering every POST with ``status`` and ``body``."""

    def __init__(self) -> None:
        self.status, self.body = 200, {}
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                payload = json.dumps(outer.body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    api = FakeAPI()
    yield api
    api.close()


@pytest.fixture
def mailgun_from_env(settings, monkeypatch, tmp_path, fake_api):
    """MAILERS as settings.py makes it from EMAIL_BACKEND and the MAILGUN_* variables."""
    key_file = tmp_path / "mailgun_api_key"
    key_file.write_text("key-from-a-file\n")
    monkeypatch.setenv("MAILGUN_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("MAILGUN_SENDER_DOMAIN", "mg.caredesk.test")
    monkeypatch.setenv("MAILGUN_API_URL", f"{fake_api.url}/v3")
    settings.MAILERS = {
        "default": {"BACKEND": MAILGUN, "OPTIONS": caredesk_settings._anymail_options(MAILGUN)}
    }
    return fake_api


def test_mailgun_configured_from_the_environment_sends(db, mailgun_from_env):
    api = mailgun_from_env
    api.body = {"id": "<20260301.1@mg.caredesk.test>", "message": "Queued. Thank you."}
    email = _email()

    assert deliver_due() == 1

    assert _reload(email).status == DeliveryStatus.SENT
    [(path, headers)] = api.requests
    assert path == "/v3/mg.caredesk.test/messages"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"api:key-from-a-file").decode()


def test_mailgun_rejecting_the_request_fails_it_at_once(db, mailgun_from_env):
    api = mailgun_from_env
    api.status, api.body = 400, {"message": "'to' parameter is not a valid address."}
    email = _email()

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == 1
    assert "Mailgun API response 400" in email.last_error
    assert "not a valid address" in email.last_error


def test_mailgun_unavailable_is_retried(db, mailgun_from_env):
    api = mailgun_from_env
    api.status, api.body = 503, {"message": "Service Unavailable"}
    email = _email()

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert "Mailgun API response 503" in email.last_error


def test_postmark_refusing_an_inactive_recipient_fails_it_at_once(db, settings, fake_api):
    settings.MAILERS = {
        "default": {
            "BACKEND": POSTMARK,
            "OPTIONS": {"server_token": "token", "api_url": f"{fake_api.url}/"},
        }
    }
    fake_api.status, fake_api.body = 422, {"ErrorCode": 406, "Message": POSTMARK_INACTIVE}
    email = _email()

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == 1
    assert email.last_error.startswith(
        "AnymailRecipientsRefused: All message recipients were rejected or invalid"
        " (alice@acme.test: rejected); Postmark answered 422: "
    )
    assert "marked as inactive" in email.last_error
    [(path, headers)] = fake_api.requests
    assert path == "/email"
    assert headers["x-postmark-server-token"] == "token"


# ---------------------------------------------------------------- settings from the environment
@pytest.fixture
def no_provider_env(monkeypatch):
    for name in (
        "MAILGUN_API_KEY",
        "MAILGUN_API_KEY_FILE",
        "MAILGUN_SENDER_DOMAIN",
        "MAILGUN_API_URL",
        "POSTMARK_SERVER_TOKEN",
        "POSTMARK_SERVER_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_mailgun_options_come_from_the_environment(no_provider_env):
    no_provider_env.setenv("MAILGUN_API_KEY", "key-123")
    no_provider_env.setenv("MAILGUN_SENDER_DOMAIN", "mg.example.org")
    no_provider_env.setenv("MAILGUN_API_URL", "https://api.eu.mailgun.net/v3")

    assert caredesk_settings._anymail_options(MAILGUN) == {
        "api_key": "key-123",
        "sender_domain": "mg.example.org",
        "api_url": "https://api.eu.mailgun.net/v3",
    }


def test_the_mailgun_key_may_come_from_a_file(no_provider_env, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("key-from-a-file\n")
    no_provider_env.setenv("MAILGUN_API_KEY_FILE", str(key_file))

    # Unset optional variables are left out, for anymail's defaults.
    assert caredesk_settings._anymail_options(MAILGUN) == {"api_key": "key-from-a-file"}


def test_the_postmark_token_comes_from_the_environment_or_a_file(no_provider_env, tmp_path):
    no_provider_env.setenv("POSTMARK_SERVER_TOKEN", "token-123")
    assert caredesk_settings._anymail_options(POSTMARK) == {"server_token": "token-123"}

    token_file = tmp_path / "token"
    token_file.write_text("token-from-a-file\n")
    no_provider_env.setenv("POSTMARK_SERVER_TOKEN_FILE", str(token_file))
    assert caredesk_settings._anymail_options(POSTMARK) == {"server_token": "token-from-a-file"}


def test_a_backend_gets_only_its_own_providers_options(no_provider_env):
    no_provider_env.setenv("MAILGUN_API_KEY", "key-123")
    no_provider_env.setenv("POSTMARK_SERVER_TOKEN", "token-123")

    assert caredesk_settings._anymail_options(POSTMARK) == {"server_token": "token-123"}
    assert caredesk_settings._anymail_options(MAILGUN) == {"api_key": "key-123"}
    for other in (
        "django.core.mail.backends.console.EmailBackend",
        "anymail.backends.sendgrid.EmailBackend",  # no variables of ours: ANYMAIL settings
    ):
        assert caredesk_settings._anymail_options(other) == {}


@subprocesses.sqlite_pass_only
def test_settings_hand_the_provider_options_to_the_default_mailer_only(tmp_path):
    """settings.py itself, imported fresh: MAILERS gets the key; the inbound webhook
    settings (ANYMAIL) do not, so Mailgun's webhook never falls back to the API key."""
    key_file = tmp_path / "key"
    key_file.write_text("key-from-a-file\n")
    env = subprocesses.isolated_env(
        tmp_path / "var",
        EMAIL_BACKEND=MAILGUN,
        MAILGUN_API_KEY_FILE=str(key_file),
        MAILGUN_SENDER_DOMAIN="mg.example.org",
        MAILGUN_WEBHOOK_SIGNING_KEY="signing-key",
    )
    for name in ("MAILGUN_API_KEY", "MAILGUN_API_URL", "ANYMAIL_WEBHOOK_SECRET"):
        env.pop(name, None)
    code = "import json, caredesk.settings as s; print(json.dumps([s.MAILERS, s.ANYMAIL]))"
    done = subprocess.run(  # noqa: S603 (our own argv)
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    mailers, anymail = json.loads(done.stdout)

    assert mailers == {
        "default": {
            "BACKEND": MAILGUN,
            "OPTIONS": {"api_key": "key-from-a-file", "sender_domain": "mg.example.org"},
        }
    }
    assert anymail == {"MAILGUN_WEBHOOK_SIGNING_KEY": "signing-key"}
