"""The outbox worker: claim a due row, send it, record the outcome, retry what may pass.

Failures come from real sockets on the loopback interface: a port that refuses
connections, and a tiny SMTP server that refuses the recipient.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.outbox.services import LEASE, MAX_ATTEMPTS, deliver_due, enqueue_email


def _smtp_mailer(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on: bound (so nobody else takes it), never listening,
    so a connection is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class _RefusingSMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP to answer every RCPT with ``server.rcpt_reply``."""

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self._say("220 test.invalid ESMTP")
        for raw in self.rfile:
            verb = raw[:4].upper()
            if verb == b"RCPT":
                self._say(self.server.rcpt_reply)
            elif verb == b"QUIT":
                self._say("221 bye")
                return
            else:  # EHLO, MAIL, RSET, NOOP
                self._say("250 ok")


@pytest.fixture
def refusing_smtp():
    """refusing_smtp("550 5.1.1 No such user") -> port of a server that says so to RCPT."""
    servers = []

    def start(rcpt_reply: str) -> int:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingSMTP)
        server.daemon_threads = True
        server.rcpt_reply = rcpt_reply
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _email(**kw) -> OutboundEmail:
    return enqueue_email(
        kw.pop("to", ["alice@acme.test"]),
        kw.pop("subject", "Re: [#12] Cannot add a volunteer"),
        kw.pop("body", "We fixed it."),
        headers=kw.pop("headers", None),
        ref=kw.pop("ref", "ticket:12"),
    )


def _reload(email: OutboundEmail) -> OutboundEmail:
    email.refresh_from_db()
    return email


def test_it_sends_what_is_due_and_marks_it_sent(db):
    email = _email(headers={"In-Reply-To": "<t12@caredesk.test>"})

    assert deliver_due() == 1

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["alice@acme.test"]
    assert sent.subject == "Re: [#12] Cannot add a volunteer"
    assert sent.body == "We fixed it."
    assert sent.extra_headers["In-Reply-To"] == "<t12@caredesk.test>"
    email = _reload(email)
    assert email.status == DeliveryStatus.SENT
    assert email.sent_at is not None
    assert email.attempts == 1
    assert email.leased_until is None
    assert email.last_error == ""


def test_every_mail_is_sent_with_the_message_id_it_was_queued_with(db, settings):
    """At least once: a second send after a crash carries the same ID, so the receiver
    can tell it is the same mail."""
    settings.DEFAULT_FROM_EMAIL = "caredesk <support@desk.example.org>"
    email = enqueue_email(["alice@acme.test"], "Reset your password", "Follow the link.")
    message_id = email.headers["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith("@desk.example.org>")

    deliver_due()

    assert mail.outbox[0].extra_headers["Message-ID"] == message_id


def test_a_subject_with_a_line_break_is_sent_on_one_line(db):
    """Python refuses a header with a line break: such a row (queued before subjects were
    made one line) would fail every attempt."""
    email = enqueue_email(["alice@acme.test"], "Re: [#12] Cannot\r\nadd", "We fixed it.")

    assert deliver_due() == 1

    assert mail.outbox[0].subject == "Re: [#12] Cannot add"
    assert _reload(email).status == DeliveryStatus.SENT


def test_it_sends_each_row_once(db):
    _email()
    assert deliver_due() == 1
    assert deliver_due() == 0
    assert len(mail.outbox) == 1


def test_it_sends_at_most_limit_rows_oldest_due_first(db):
    now = timezone.now()
    rows = [_email(subject=f"n{i}") for i in range(3)]
    for i, row in enumerate(rows):
        OutboundEmail.objects.filter(pk=row.pk).update(
            next_attempt_at=now - timedelta(minutes=10 - i)
        )

    assert deliver_due(limit=2) == 2

    assert [m.subject for m in mail.outbox] == ["n0", "n1"]
    assert _reload(rows[2]).status == DeliveryStatus.PENDING


def test_a_transient_failure_stays_pending_and_is_retried_later(db, settings, closed_port):
    settings.MAILERS = _smtp_mailer(closed_port)
    email = _email()

    assert deliver_due() == 0

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert email.last_error.startswith("ConnectionRefusedError")
    assert email.next_attempt_at > timezone.now()
    assert email.leased_until is None
    assert email.sent_at is None

    # Not due yet: the next run leaves it alone.
    assert deliver_due() == 0
    assert _reload(email).attempts == 1


def test_a_retry_after_the_backoff_sends_it(db, settings, closed_port):
    settings.MAILERS = _smtp_mailer(closed_port)
    email = _email()
    deliver_due()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())

    assert deliver_due() == 1

    email = _reload(email)
    assert email.status == DeliveryStatus.SENT
    assert email.attempts == 2
    assert email.last_error == ""
    assert len(mail.outbox) == 1


def test_the_backoff_grows_with_each_attempt(db, settings, closed_port):
    settings.MAILERS = _smtp_mailer(closed_port)
    email = _email()
    waits = []
    for _ in range(3):
        OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        deliver_due()
        waits.append(_reload(email).next_attempt_at - before)

    assert email.attempts == 3
    assert waits[0] < waits[1] < waits[2]


def test_it_gives_up_after_the_last_attempt(db, settings, closed_port):
    settings.MAILERS = _smtp_mailer(closed_port)
    email = _email()
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=MAX_ATTEMPTS - 1)

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == MAX_ATTEMPTS
    assert email.last_error


def test_a_permanent_refusal_fails_at_once(db, settings, refusing_smtp):
    settings.MAILERS = _smtp_mailer(refusing_smtp("550 5.1.1 No such user here"))
    email = _email()

    assert deliver_due() == 0

    email = _reload(email)
    assert email.status == DeliveryStatus.FAILED
    assert email.attempts == 1
    assert "No such user here" in email.last_error


def test_a_temporary_refusal_is_retried(db, settings, refusing_smtp):
    settings.MAILERS = _smtp_mailer(refusing_smtp("451 4.3.0 Try again later"))
    email = _email()

    deliver_due()

    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert "Try again later" in email.last_error


def test_a_crashed_workers_row_is_delivered_again_once_its_lease_expires(db):
    # A worker claimed it (attempt 1) and died before recording anything.
    email = _email()
    OutboundEmail.objects.filter(pk=email.pk).update(
        attempts=1, leased_until=timezone.now() - timedelta(seconds=1)
    )

    assert deliver_due() == 1

    email = _reload(email)
    assert email.status == DeliveryStatus.SENT
    assert email.attempts == 2
    assert len(mail.outbox) == 1


def test_a_row_leased_by_another_worker_is_skipped(db):
    email = _email()
    leased_until = timezone.now() + LEASE
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=1, leased_until=leased_until)

    assert deliver_due() == 0

    assert mail.outbox == []
    email = _reload(email)
    assert email.status == DeliveryStatus.PENDING
    assert email.attempts == 1
    assert email.leased_until == leased_until


def test_rows_not_due_sent_or_failed_are_left_alone(db):
    later = _email(subject="later")
    OutboundEmail.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    for status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
        row = _email(subject=status)
        OutboundEmail.objects.filter(pk=row.pk).update(status=status)

    assert deliver_due() == 0
    assert mail.outbox == []


def test_rows_held_by_other_workers_do_not_use_up_the_batch(db):
    held = _email(subject="held")
    free = _email(subject="free")
    now = timezone.now()
    OutboundEmail.objects.filter(pk=held.pk).update(
        next_attempt_at=now - timedelta(minutes=2), leased_until=now + LEASE
    )
    OutboundEmail.objects.filter(pk=free.pk).update(next_attempt_at=now - timedelta(minutes=1))

    assert deliver_due(limit=1) == 1
    assert [m.subject for m in mail.outbox] == ["free"]


def test_each_lease_runs_from_its_own_claim_however_slow_the_sends_before_it(db, monkeypatch):
    """With sends that take minutes, a lease counted from the start of the sweep would
    already be over when a later row is claimed: another worker could send it too."""
    from caredesk.outbox import services
    from caredesk.outbox.models import OutboundEmail as Email

    rows = [_email(subject=f"Slow {i}") for i in range(3)]
    clock = [timezone.now()]

    def now():
        return clock[0]

    def slow_send(row):  # each send takes three minutes of the (fake) clock
        leased_until = Email.objects.get(pk=row.pk).leased_until
        held.append(leased_until > clock[0])
        clock[0] += timedelta(minutes=3)

    held: list[bool] = []
    monkeypatch.setattr(services.timezone, "now", now)
    monkeypatch.setattr(services, "TRANSPORTS", [(Email, slow_send)])
    assert deliver_due() == 3
    assert held == [True, True, True]
    assert all(_reload(r).status == DeliveryStatus.SENT for r in rows)
