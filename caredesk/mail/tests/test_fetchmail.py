"""``caredesk fetchmail`` against a real (private) Dovecot: see conftest.py."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import OperationalError
from imap_tools import AND

from caredesk.mail import intake
from caredesk.mail.choices import Transport
from caredesk.mail.models import Mailbox
from caredesk.mail.tests.factories import deeply_nested, ledger

pytestmark = pytest.mark.django_db

PASSWORD_ENV = "CAREDESK_TEST_IMAP_PASSWORD"


def eml(subject: str | bytes, body: bytes = b"Hello from the mailbox.", **headers) -> bytes:
    head = {
        "From": "Bob <bob@bethel.test>",
        "To": "support@desk.test",
        "Subject": subject,
        "Message-ID": f"<{uuid.uuid4().hex}@bethel.test>",
        "Date": "Thu, 26 Nov 2026 10:00:00 +0100",
        **headers,
    }
    lines = [
        name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        for name, value in head.items()
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"\r\n"


def deliver(account, *messages: bytes, flags=()) -> None:
    with account.client() as client:
        for raw in messages:
            client.append(raw, "INBOX", flag_set=flags)


def mailbox_for(account, name: str = "support", **fields) -> Mailbox:
    defaults = {
        "host": account.host,
        "port": account.port,
        "use_ssl": False,
        "username": account.username,
        "password_env": PASSWORD_ENV,
    }
    return Mailbox.objects.create(name=name, **{**defaults, **fields})


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "secret")


def stored() -> list[bytes]:
    return [bytes(raw) for raw in ledger().order_by("id").values_list("raw", flat=True)]


def test_it_stores_unseen_mail_byte_exact_in_arrival_order_and_marks_it_seen(imap_account):
    account = imap_account()
    first = eml("First")
    latin1 = eml(
        b"Deuxi\xe8me (raw 8-bit header)",
        b"Le b\xe9n\xe9vole n'appara\xeet pas.\r\n.\r\nFin.",
        **{"Content-Type": "text/plain; charset=iso-8859-1", "Content-Transfer-Encoding": "8bit"},
    )
    third = eml("Third", b"line\r\n" * 5000)
    deliver(account, eml("Already read"), flags=[r"\Seen"])
    deliver(account, first, latin1, third)
    mailbox = mailbox_for(account)

    call_command("fetchmail", "--once")

    assert stored() == [first, latin1, third]
    row = ledger().order_by("id").first()
    assert (row.transport, row.mailbox, row.size) == (Transport.IMAP, "support", len(first))
    with account.client() as client:
        assert client.uids(AND(seen=False)) == []
        assert len(client.uids("ALL")) == 4  # marked, not removed
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert mailbox.last_polled_at is not None

    call_command("fetchmail", "--once")  # nothing new
    assert ledger().count() == 3

    later = eml("Fourth")
    deliver(account, later)
    call_command("fetchmail", "--once")
    assert stored() == [first, latin1, third, later]


def test_a_message_the_standard_parser_cannot_parse_does_not_stop_the_mailbox(imap_account):
    account = imap_account()
    deep, after = deeply_nested(), eml("Arrived after the deep one")
    deliver(account, deep, after)
    mailbox = mailbox_for(account)

    call_command("fetchmail", "--once")

    assert stored() == [deep, after]
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    with account.client() as client:
        assert client.uids(AND(seen=False)) == []


def test_it_moves_fetched_mail_to_move_to_creating_the_folder(imap_account):
    account = imap_account()
    raws = [eml("One"), eml("Two")]
    deliver(account, *raws)
    mailbox_for(account, move_to="caredesk/Done")

    call_command("fetchmail", "--once")

    assert stored() == raws
    with account.client() as client:
        assert client.uids("ALL") == []
        client.folder.set("caredesk/Done")
        assert [msg.subject for msg in client.fetch(mark_seen=False)] == ["One", "Two"]


def test_a_failing_mailbox_is_recorded_and_the_others_are_still_fetched(
    imap_account, tmp_path, caplog
):
    good, wrong = imap_account(), imap_account()
    raw = eml("Still arrives")
    deliver(good, raw)
    deliver(wrong, eml("Stays on the server"))
    (tmp_path / "wrong").write_text("not-the-password\n")
    wrong_password = mailbox_for(
        wrong, "a-wrong-password", password_env="", password_file=str(tmp_path / "wrong")
    )
    unreachable = mailbox_for(good, "b-unreachable", port=1)
    no_secret = mailbox_for(good, "c-no-secret", password_env="CAREDESK_TEST_UNSET_PASSWORD")
    working = mailbox_for(good, "d-working")

    with caplog.at_level(logging.WARNING, logger="caredesk.mail.fetch"):
        call_command("fetchmail", "--once")  # no exception, no exit

    assert stored() == [raw]
    for mailbox in (wrong_password, unreachable, no_secret, working):
        mailbox.refresh_from_db()
        assert mailbox.last_polled_at is not None
    assert wrong_password.last_error.startswith("MailboxLoginError")
    assert "AUTHENTICATIONFAILED" in wrong_password.last_error
    assert "not-the-password" not in wrong_password.last_error
    assert unreachable.last_error.startswith("ConnectionRefusedError")
    assert no_secret.last_error == (
        "configuration: environment variable CAREDESK_TEST_UNSET_PASSWORD (its password) is not set"
    )
    assert working.last_error == ""
    failures = [r.getMessage() for r in caplog.records if "polling failed" in r.getMessage()]
    assert len(failures) == 3
    with wrong.client() as client:
        assert len(client.uids(AND(seen=False))) == 1

    # Fixed: the error goes away at the next poll, and its mail arrives.
    (tmp_path / "wrong").write_text("secret\n")
    call_command("fetchmail", "--once")
    wrong_password.refresh_from_db()
    assert wrong_password.last_error == ""
    assert ledger().filter(mailbox="a-wrong-password").count() == 1


def test_the_password_comes_from_a_file(imap_account, tmp_path):
    account = imap_account()
    deliver(account, eml("Via a password file"))
    secret = tmp_path / "imap-password"
    secret.write_text("secret\n")  # as `echo secret > file` writes it
    mailbox_for(account, password_env="", password_file=str(secret))

    call_command("fetchmail", "--once")

    assert ledger().count() == 1


def test_inactive_mailboxes_are_not_polled(imap_account):
    account = imap_account()
    deliver(account, eml("Waits"))
    mailbox = mailbox_for(account, active=False)

    call_command("fetchmail", "--once")

    assert not ledger().exists()
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is None


def test_limit_takes_the_oldest_first(imap_account):
    account = imap_account()
    raws = [eml("One"), eml("Two"), eml("Three")]
    deliver(account, *raws)
    mailbox_for(account)

    call_command("fetchmail", "--once", "--limit", "2")
    assert stored() == raws[:2]
    call_command("fetchmail", "--once", "--limit", "2")
    assert stored() == raws


def test_mail_over_the_size_limit_stays_unseen_on_the_server(imap_account, settings, caplog):
    settings.MAIL_MAX_BYTES = 20_000
    account = imap_account()
    small, big = eml("Small"), eml("Big", (b"x" * 998 + b"\r\n") * 30)
    deliver(account, big, small)
    mailbox_for(account)

    with caplog.at_level(logging.WARNING, logger="caredesk.mail.fetch"):
        call_command("fetchmail", "--once")

    assert stored() == [small]
    assert "support: 1 unseen message(s) over 20000 bytes left in INBOX" in caplog.text
    with account.client() as client:
        assert [msg.subject for msg in client.fetch(AND(seen=False), mark_seen=False)] == ["Big"]


def test_without_once_it_polls_until_sigterm(imap_account):
    """The loop: polls, sleeps ``--interval``, and SIGTERM ends the sleep and the command.

    A watcher thread sends SIGTERM to this process once the message is marked seen on
    the server, i.e. after the first poll; the command handles it and returns.
    """
    account = imap_account()
    raw = eml("Polled by the loop")
    deliver(account, raw)
    mailbox_for(account)
    previous = signal.getsignal(signal.SIGTERM)

    def stop_after_first_poll():
        deadline = time.monotonic() + 60  # a poll that fails must fail the test, not hang it
        with account.client() as client:
            while client.uids(AND(seen=False)) and time.monotonic() < deadline:
                client.idle.wait(timeout=1)  # or poll again after a second
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=stop_after_first_poll)
    watcher.start()
    call_command("fetchmail", "--interval", "3600")
    watcher.join()

    assert stored() == [raw]
    assert signal.getsignal(signal.SIGTERM) == previous  # the command restored it


def subjects(account, folder: str = "INBOX", criteria="ALL") -> list[str]:
    with account.client(folder) as client:
        return [msg.subject for msg in client.fetch(criteria, mark_seen=False)]


@pytest.mark.django_db(transaction=True)  # real commits: no test transaction to hide them
@pytest.mark.parametrize("move_to", ["", "caredesk/Done"], ids=["mark-seen", "move"])
def test_a_message_leaves_the_unseen_set_only_once_its_bytes_are_committed(
    imap_account, monkeypatch, move_to
):
    """Storing fails for the 2nd of three messages (the database is gone). The poll
    stops there rather than skip it: the 1st is stored and marked seen (or moved); the
    2nd and the 3rd stay unseen in the INBOX and are not stored, so nothing is lost and
    arrival order is kept; the mailbox's last_error says why. Once the database works
    again, the next poll stores the 2nd and the 3rd, each exactly once, and the 1st is
    not fetched again."""
    account = imap_account()
    one, two, three = eml("One"), eml("Two"), eml("Three")
    deliver(account, one, two, three)
    mailbox = mailbox_for(account, move_to=move_to)
    real_receive = intake.receive

    def receive_failing_on_two(raw, **kwargs):
        if raw != two:
            return real_receive(raw, **kwargs)
        raise OperationalError("simulated: connection to the database lost at commit")

    def taken() -> list[str]:  # what left the unseen set: moved, or marked seen
        if move_to:
            return subjects(account, move_to)
        return subjects(account, criteria=AND(seen=True))

    monkeypatch.setattr(intake, "receive", receive_failing_on_two)
    call_command("fetchmail", "--once")

    assert stored() == [one]
    assert taken() == ["One"]
    assert subjects(account, criteria=AND(seen=False)) == ["Two", "Three"]
    assert subjects(account) == (["Two", "Three"] if move_to else ["One", "Two", "Three"])
    mailbox.refresh_from_db()
    assert mailbox.last_error == (
        "OperationalError: simulated: connection to the database lost at commit"
    )

    monkeypatch.setattr(intake, "receive", real_receive)  # the database is back
    call_command("fetchmail", "--once")

    assert stored() == [one, two, three]
    assert taken() == ["One", "Two", "Three"]
    assert subjects(account, criteria=AND(seen=False)) == []
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""


# Over TLS, as Gmail and Microsoft 365 serve IMAP (port 993, implicit TLS). The private
# Dovecot's certificate is for "localhost", signed by a throwaway CA that the system does
# not know; a test trusts it through SSL_CERT_FILE, which ssl.create_default_context()
# (fetch.connect) reads when it loads the default verify paths.


def tls_mailbox_for(account, name: str = "support-tls", **fields) -> Mailbox:
    tls = {"host": account.tls_host, "port": account.tls_port, "use_ssl": True}
    return mailbox_for(account, name, **{**tls, **fields})


def test_it_polls_over_tls_with_a_trusted_certificate(imap_account, dovecot, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    account = imap_account()
    raws = [eml("Over TLS"), eml("Also over TLS")]
    deliver(account, *raws)
    mailbox = tls_mailbox_for(account)

    call_command("fetchmail", "--once")

    assert stored() == raws
    assert set(ledger().values_list("mailbox", flat=True)) == {"support-tls"}
    with account.client() as client:
        assert client.uids(AND(seen=False)) == []
        assert len(client.uids("ALL")) == 2  # marked, not removed
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert mailbox.last_polled_at is not None

    call_command("fetchmail", "--once")  # nothing new
    assert stored() == raws


def assert_refused_over_tls(account, mailbox: Mailbox, caplog) -> str:
    """The poll failed, nothing is stored, the message is still unseen on the server;
    returns ``last_error``, which names a certificate verification failure."""
    with caplog.at_level(logging.WARNING, logger="caredesk.mail.fetch"):
        call_command("fetchmail", "--once")  # no exception

    assert not ledger().exists()
    with account.client() as client:
        assert [msg.subject for msg in client.fetch(AND(seen=False), mark_seen=False)] == [
            "Must not be read"
        ]
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is not None
    assert mailbox.last_error.startswith(
        "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
    )
    assert f"{mailbox.name}: polling failed: SSLCertVerificationError" in caplog.text
    return mailbox.last_error


def test_a_certificate_from_an_unknown_ca_is_refused(imap_account, dovecot, monkeypatch, caplog):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the system's CAs only
    account = imap_account()
    deliver(account, eml("Must not be read"))
    mailbox = tls_mailbox_for(account)

    error = assert_refused_over_tls(account, mailbox, caplog)
    assert "unable to get local issuer certificate" in error

    # Only the trust was missing: once the CA is trusted, the mail arrives.
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    call_command("fetchmail", "--once")
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert ledger().count() == 1


def test_a_certificate_for_another_name_is_refused(imap_account, dovecot, monkeypatch, caplog):
    """The same server and port, reached as 127.0.0.1: a trusted CA, but the certificate
    is only for "localhost", and the host name is checked."""
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    account = imap_account()
    deliver(account, eml("Must not be read"))
    assert dovecot.host == "127.0.0.1" != account.tls_host
    mailbox = tls_mailbox_for(account, host=dovecot.host)

    error = assert_refused_over_tls(account, mailbox, caplog)
    assert "IP address mismatch, certificate is not valid for '127.0.0.1'" in error
