"""SMTP intake, over real SMTP connections to a real aiosmtpd server on a free loopback
port, and by calling the handler directly.

The server stores from its own database thread, so these tests use
``transactional_db``: the rows must be committed for another connection to see them,
and the test must not hold a write transaction while that thread writes. On SQLite this
works with Django's default in-memory test database too: Django names it
``file:memorydb_default?mode=memory&cache=shared``, one shared-cache database that every
connection opened in the same process (any thread) attaches to; with
``CAREDESK_TEST_SQLITE=path`` it is an ordinary file in WAL mode. PostgreSQL needs nothing.
"""

from __future__ import annotations

import re
import signal
import smtplib
import socket
import sqlite3
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope, Session
from django.db import connection

from caredesk.core.tests import subprocesses
from caredesk.mail import addresses
from caredesk.mail.choices import Transport
from caredesk.mail.models import InboundMessage
from caredesk.mail.smtpd import IntakeController, IntakeHandler, _IntakeSMTP
from caredesk.mail.tests.factories import ledger, run_async

SUPPORT = "support@desk.test"


def eml(body: bytes = b"My volunteers list is empty since this morning.", **headers) -> bytes:
    head = {
        "From": "Alice <alice@acme.test>",
        "To": SUPPORT,
        "Subject": "Cannot add a volunteer",
        "Message-ID": f"<{uuid.uuid4().hex}@acme.test>",
        "Date": "Thu, 26 Nov 2026 10:00:00 +0100",
        **headers,
    }
    lines = [f"{name}: {value}".encode() for name, value in head.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"\r\n"


@pytest.fixture(autouse=True)
def _support_address(settings):
    settings.CAREDESK_SUPPORT_ADDRESSES = [SUPPORT]


@pytest.fixture
def server(transactional_db, _support_address):
    controller = IntakeController(IntakeHandler(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.shutdown()


@pytest.fixture
def smtp(server):
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
        client.ehlo("mx.acme.test")
        yield client


def queued_id(reply: tuple[int, bytes]) -> str:
    code, text = reply
    assert code == 250, reply
    prefix = b"2.0.0 Queued as "
    assert text.startswith(prefix), text
    return text.removeprefix(prefix).decode()


def test_it_stores_the_exact_bytes_and_answers_250_after_commit(smtp):
    raw = eml()
    assert smtp.mail("alice@acme.test") == (250, b"OK")
    assert smtp.rcpt(SUPPORT) == (250, b"2.1.5 OK")
    queue_id = queued_id(smtp.data(raw))

    row = ledger().get()
    assert row.queue_id == queue_id
    assert bytes(row.raw) == raw
    assert row.size == len(raw)
    assert row.transport == Transport.SMTP
    assert row.envelope_from == "alice@acme.test"
    assert row.envelope_to == [SUPPORT]
    assert row.state == "queued"


def test_it_refuses_an_unknown_recipient_at_rcpt(smtp):
    smtp.mail("alice@acme.test")
    assert smtp.rcpt("sales@desk.test") == (
        550,
        b"5.1.1 <sales@desk.test>: no such mailbox here",
    )
    assert smtp.rcpt("support@elsewhere.test")[0] == 550
    with pytest.raises(smtplib.SMTPDataError) as no_data:  # no valid recipient: no DATA
        smtp.data(eml())
    assert no_data.value.smtp_code == 503
    assert not ledger().exists()


def test_it_keeps_only_our_recipients_of_a_mixed_envelope(smtp):
    refused = smtp.sendmail("alice@acme.test", [SUPPORT, "nobody@desk.test"], eml())
    assert refused == {"nobody@desk.test": (550, b"5.1.1 <nobody@desk.test>: no such mailbox here")}
    assert ledger().get().envelope_to == [SUPPORT]


def test_it_accepts_a_signed_reply_address_and_refuses_forged_ones(smtp):
    genuine = addresses.reply_address(1234)
    local, _, domain = genuine.partition("@")
    signature = local.rsplit(".", 1)[1]
    forged = f"{local[: -len(signature)]}{'0' if signature[0] != '0' else '1'}{signature[1:]}"
    other_ticket = genuine.replace("+t1234.", "+t1235.")

    smtp.mail("alice@acme.test")
    assert smtp.rcpt(genuine)[0] == 250
    assert smtp.rcpt(f"{forged}@{domain}")[0] == 550
    assert smtp.rcpt(other_ticket)[0] == 550
    assert smtp.rcpt(genuine.upper())[0] == 250  # addresses are case-insensitive
    queued_id(smtp.data(eml(To=genuine)))
    assert ledger().get().envelope_to == [genuine, genuine.upper()]


def test_it_stores_one_row_for_several_recipients(smtp):
    reply = addresses.reply_address(7)
    raw = eml(Cc=reply)
    assert smtp.sendmail("alice@acme.test", [SUPPORT, reply], raw) == {}
    row = ledger().get()
    assert row.envelope_to == [SUPPORT, reply]
    assert bytes(row.raw) == raw


def test_it_stores_8bit_non_utf8_bytes_exactly(smtp):
    # Latin-1 body, 8bit transfer encoding, and lines the SMTP dot-stuffing must restore.
    body = (
        b"Bonjour, le b\xe9n\xe9vole n'appara\xeet pas.\r\n"
        b".\r\n"
        b"..two dots\r\n"
        b".one dot\r\n"
        b"\xff\xfe\x00 raw bytes"
    )
    raw = eml(
        body,
        **{"Content-Type": "text/plain; charset=iso-8859-1", "Content-Transfer-Encoding": "8bit"},
    )
    smtp.mail("alice@acme.test", ["BODY=8BITMIME"])
    smtp.rcpt(SUPPORT)
    queue_id = queued_id(smtp.data(raw))
    assert bytes(ledger().get(queue_id=queue_id).raw) == raw


def test_it_keeps_lines_longer_than_rfc_5321_allows(smtp):
    # HTML mailers put whole documents on one line; refusing them would lose the mail.
    raw = eml(b"<p>" + b"x" * 20_000 + b"</p>\r\n", **{"Content-Type": "text/html"})
    smtp.mail("alice@acme.test")
    smtp.rcpt(SUPPORT)
    queue_id = queued_id(smtp.data(raw))
    assert bytes(ledger().get(queue_id=queue_id).raw) == raw


def test_it_accepts_bounces_from_the_null_sender(smtp):
    smtp.mail("<>")
    smtp.rcpt(SUPPORT)
    queued_id(smtp.data(eml(From="MAILER-DAEMON@mx.acme.test")))
    assert ledger().get().envelope_from == "<>"


def test_it_stores_an_8bit_envelope_sender_without_failing(smtp):
    # A sloppy client sends a Latin-1 MAIL FROM without SMTPUTF8; storing must not fail
    # on it forever (the sender would retry for days).
    smtp.send(b"MAIL FROM:<j\xf6rg@acme.test>\r\n")
    assert smtp.getreply()[0] == 250
    smtp.rcpt(SUPPORT)
    queued_id(smtp.data(eml()))
    assert ledger().get().envelope_from == "j\ufffdrg@acme.test"


class TestSizeLimit:
    @pytest.fixture
    def limit(self, settings):
        settings.MAIL_MAX_BYTES = 10_000
        return 10_000

    def test_it_advertises_the_limit(self, limit, smtp):
        assert smtp.esmtp_features["size"] == str(limit)

    def test_a_declared_size_over_the_limit_is_refused_at_mail_from(self, limit, smtp):
        raw = eml((b"x" * 98 + b"\r\n") * 90)  # 9 000 bytes of body: under the limit
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("alice@acme.test", [SUPPORT], eml(b"y" * 998 + b"\r\n") * 12)
        assert (refused.value.smtp_code, refused.value.smtp_error) == (
            552,
            b"5.3.4 Message too big",
        )
        assert not ledger().exists()
        smtp.rset()
        assert smtp.sendmail("alice@acme.test", [SUPPORT], raw) == {}  # under: accepted
        assert ledger().count() == 1

    def test_an_undeclared_size_over_the_limit_is_refused_after_data(self, limit, smtp):
        smtp.mail("alice@acme.test")  # no SIZE parameter
        smtp.rcpt(SUPPORT)
        assert smtp.data((b"z" * 998 + b"\r\n") * 11) == (552, b"5.3.4 Message too big")
        assert not ledger().exists()


@contextmanager
def storage_broken(settings):
    """A real failure, no mock: where the intake stores mail cannot be written."""
    if settings.MAIL_SPOOL:  # SQLite: a directory stands where the spool file would be
        Path(settings.MAIL_SPOOL).mkdir()
        try:
            yield
        finally:
            Path(settings.MAIL_SPOOL).rmdir()
        return
    table = InboundMessage._meta.db_table  # PostgreSQL: the ledger table is away
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")


def test_a_storage_failure_answers_451_and_the_retry_is_stored(smtp, settings):
    raw = eml()
    with storage_broken(settings):
        smtp.mail("alice@acme.test")
        smtp.rcpt(SUPPORT)
        code, text = smtp.data(raw)
        assert (code, text[:5]) == (451, b"4.3.0")
    assert not ledger().exists()

    smtp.mail("alice@acme.test")  # the sender retries
    smtp.rcpt(SUPPORT)
    queued_id(smtp.data(raw))
    assert bytes(ledger().get().raw) == raw


class TestHandlerDirectly:
    """The same handler without a socket: what the hooks answer and store."""

    @pytest.fixture
    def handler(self):
        handler = IntakeHandler()
        yield handler
        handler.close()

    def test_it_refuses_a_stranger_without_touching_the_envelope(self, handler):
        envelope = Envelope()
        reply = run_async(handler.handle_RCPT(None, None, envelope, "x@desk.test", []))
        assert reply == "550 5.1.1 <x@desk.test>: no such mailbox here"
        assert envelope.rcpt_tos == []

    def test_it_stores_and_answers_with_the_queue_id(self, handler, transactional_db):
        envelope = Envelope()
        envelope.mail_from = "alice@acme.test"
        session = Session(loop=None)
        session.peer = ("192.0.2.1", 40000)

        async def conversation() -> str:
            assert await handler.handle_RCPT(None, session, envelope, SUPPORT, []) == (
                "250 2.1.5 OK"
            )
            envelope.original_content = eml()
            return await handler.handle_DATA(None, session, envelope)

        reply = run_async(conversation())
        row = ledger().get()
        assert reply == f"250 2.0.0 Queued as {row.queue_id}"
        assert bytes(row.raw) == envelope.original_content

    def test_it_refuses_too_big_content(self, handler):
        handler.max_bytes = 100
        envelope = Envelope()
        envelope.original_content = eml()
        assert run_async(handler.handle_DATA(None, None, envelope)) == ("552 5.3.4 Message too big")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return False
    return True


def test_the_command_serves_until_sigterm_and_stops_cleanly(tmp_path):
    """``caredesk smtpd`` as the process it is in production, with its own database."""
    env = subprocesses.isolated_env(tmp_path, CAREDESK_SUPPORT_ADDRESSES=SUPPORT)
    subprocesses.migrate(env)
    port = _free_port()
    log = tmp_path / "smtpd.log"
    proc = subprocesses.start(
        subprocesses.caredesk("smtpd", "--host", "127.0.0.1", "--port", str(port)), env, log
    )
    try:
        subprocesses.wait_until(lambda: _listening(port), proc, log, "caredesk smtpd")
        raw = eml()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            assert client.sendmail("alice@acme.test", [SUPPORT], raw) == {}
            assert client.sendmail("alice@acme.test", ["nobody@desk.test", SUPPORT], raw) == {
                "nobody@desk.test": (550, b"5.1.1 <nobody@desk.test>: no such mailbox here")
            }
        idle = smtplib.SMTP("127.0.0.1", port, timeout=30)  # open during the stop
        idle.ehlo()
        returncode = subprocesses.stop(proc, signal.SIGTERM)
        idle.close()
    finally:
        subprocesses.stop(proc, signal.SIGKILL)
    output = log.read_text()
    assert returncode == 0, output
    stored = re.findall(r" stored \w{32} from <alice@acme.test> to support@desk.test", output)
    assert len(stored) == 2, output
    assert "smtpd stopped" in output

    # Committed to the intake's own file (mail/spool.py): the worker moves them on.
    with closing(sqlite3.connect(tmp_path / "caredesk.sqlite3-spool")) as check:
        rows = check.execute("SELECT raw, transport FROM message").fetchall()
    assert rows == [(raw, "smtp"), (raw, "smtp")]


def test_a_sender_that_closes_mid_message_stores_nothing_and_others_go_on(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        replies.readline()  # greeting
        for command in (b"EHLO mx.acme.test", b"MAIL FROM:<alice@acme.test>", b"RCPT TO:<%s>"):
            sock.sendall(command.replace(b"%s", SUPPORT.encode()) + b"\r\n")
            while (line := replies.readline())[3:4] == b"-":
                pass
            assert line[:1] in (b"2",), line
        sock.sendall(b"DATA\r\n")
        assert replies.readline().startswith(b"354")
        sock.sendall(b"Subject: half\r\n\r\nthe first half of a message")
        sock.shutdown(socket.SHUT_WR)  # and nothing more: no end-of-data line
        assert replies.readline() == b""  # closed without an answer (no 250, no 500)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
        assert client.sendmail("alice@acme.test", [SUPPORT], eml()) == {}
    assert ledger().count() == 1


def test_the_intake_protocol_takes_mail_as_bytes_only():
    with pytest.raises(ValueError, match="decode_data=False"):
        _IntakeSMTP(IntakeHandler(), decode_data=True)
