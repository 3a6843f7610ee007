"""SMTP intake: a small aiosmtpd server that stores what it accepts, nothing more.

``IntakeHandler`` is a plain aiosmtpd handler (tests call it directly and over a real SMTP
connection); ``IntakeController`` runs it on a loopback or public port in a thread, as
``caredesk smtpd`` does.

The contract with the sending MTA:

* ``RCPT`` is refused with ``550 5.1.1`` unless the address is ours (a support address or
  a genuine signed reply address), so spam to random local parts bounces at the door and
  nothing is stored for it;
* ``SIZE`` is advertised (``MAIL_MAX_BYTES``); a bigger message gets ``552 5.3.4``, either
  at ``MAIL FROM`` (declared size) or after ``DATA`` (undeclared);
* ``DATA`` answers ``250 2.0.0 Queued as <queue id>`` only once ``intake.receive()`` returned,
  i.e. once the raw bytes are committed. If storing fails (database locked for longer
  than its timeout, disk full, ...) the answer is ``451 4.3.0``: the sender keeps the
  message and retries, so nothing is lost. A lost 250 (connection cut after commit) makes
  the sender retry a stored message: the worker recognizes duplicates.

Database work runs in one dedicated thread (``SINGLE_DB_THREAD``), never on the event
loop: its connections are reused across messages (Django's checked before and after each
use, as Django does per request; on SQLite the intake's own file, ``spool``) and closed
when the server stops. One writer thread is also what SQLite wants; a PostgreSQL insert
takes a millisecond, so a help desk's mail rate never queues behind it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax
from django.conf import settings
from django.db import close_old_connections, connections

from . import addresses, intake, spool
from .choices import Transport

logger = logging.getLogger("caredesk.mail.smtpd")

TOO_BIG = "552 5.3.4 Message too big"
STORAGE_FAILED = "451 4.3.0 Could not store the message; please try again later"
MAX_RECIPIENTS = 100  # RFC 5321 4.5.3.1.8: the minimum a server must accept
SINGLE_DB_THREAD = 1


def _clean(text: str) -> str:
    """aiosmtpd decodes 8-bit command arguments with surrogateescape; a lone surrogate
    cannot be stored (UTF-8), and failing on it would answer 451 forever."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class IntakeHandler:
    """aiosmtpd handler: accept mail for our addresses and store it through intake."""

    def __init__(self, *, max_bytes: int | None = None) -> None:
        self.max_bytes = settings.MAIL_MAX_BYTES if max_bytes is None else max_bytes
        self._executor = ThreadPoolExecutor(SINGLE_DB_THREAD, thread_name_prefix="smtpd-db")
        self._busy = 0
        self._idle = threading.Condition()

    # ------------------------------------------------------------------ SMTP hooks

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        # is_ours() only computes an HMAC: no database, so it may run on the event loop.
        if not addresses.is_ours(address):
            logger.info("refused RCPT <%s> from %s: not ours", _clean(address), _peer(session))
            return f"550 5.1.1 <{address}>: no such mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if len(raw) > self.max_bytes:  # aiosmtpd's own limit also counts dot-stuffing
            return TOO_BIG
        mail_from = _clean(envelope.mail_from or "")
        rcpt_tos = list(envelope.rcpt_tos)
        with self._idle:
            self._busy += 1
        try:
            loop = asyncio.get_running_loop()
            queue_id = await loop.run_in_executor(
                self._executor, self.store, raw, mail_from, rcpt_tos
            )
        except Exception:
            logger.exception(
                "451 for a message from <%s> to %s (%d bytes): storing failed",
                mail_from,
                rcpt_tos,
                len(raw),
            )
            return STORAGE_FAILED
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
        logger.info(
            "stored %s from <%s> to %s (%d bytes, peer %s)",
            queue_id,
            mail_from,
            ", ".join(rcpt_tos),
            len(raw),
            _peer(session),
        )
        return f"250 2.0.0 Queued as {queue_id}"

    # ------------------------------------------------------------------ storage

    def store(self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> str:
        """Store one message (committed on return); runs in the database thread."""
        close_old_connections()  # a connection the database dropped, or past CONN_MAX_AGE
        try:
            return intake.receive(
                raw, transport=Transport.SMTP, envelope_from=mail_from, envelope_to=rcpt_tos
            )
        finally:
            close_old_connections()  # closes it after an error that made it unusable

    # ------------------------------------------------------------------ lifecycle

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no DATA is being stored; False if still busy after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Close the database thread's connection, then the thread itself."""
        self._executor.submit(_close_connections).result()
        self._executor.shutdown(wait=True)


def _close_connections() -> None:
    connections.close_all()
    spool.close()


def _peer(session: Session) -> str:
    peer = session.peer if session is not None else None
    if isinstance(peer, tuple):
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "-")


END_OF_DATA = b"\r\n.\r\n"  # RFC 5321 4.1.1.4: a line holding only a dot ends DATA
# Content made of empty lines or lines starting with a dot is read a line at a time; what
# is already buffered is read without waiting, so every so many reads the others get a go.
YIELD_EVERY = 64


class TooMuchData(Exception):
    """The content went over the size limit (it was read to its end all the same)."""


async def read_data(reader: asyncio.StreamReader, max_bytes: int | None) -> bytes:
    """The content of DATA up to its final line, dot-unstuffed (RFC 5321 4.5.2), as
    aiosmtpd's own reader returns it; ``TooMuchData`` if its transmitted size went over
    ``max_bytes``.

    aiosmtpd reads DATA a line at a time (an await, a log call and several checks per
    line: about a fifth of the intake's CPU per message in bench/mail_ingest.py). This
    reads up to the end marker, CRLF "." CRLF, at once: a message smaller than the
    reader's buffer limit takes two reads. Where what was read so far ends with the start
    of a marker, the next read is one that cannot go past where that marker would end: at
    a line's start (the content's first line follows the DATA command's own CRLF) one
    byte, which is the dot of a marker or proves there is none; otherwise (a read that
    stopped at the buffer limit, a line starting with a dot) up to the next line feed.
    No read can then hold a whole marker unless it ends the read, so checking the end of
    what was read after each one finds the first marker."""
    data = bytearray(b"\r\n")  # the DATA command's line end: the content starts a line
    too_much = False
    for reads in itertools.count(1):
        if reads % YIELD_EVERY == 0:  # buffered reads do not wait: let other sessions run
            await asyncio.sleep(0)
        if data.endswith(b"\r\n"):  # a line's start: what it begins with decides
            chunk = await reader.readexactly(1)
        elif _may_begin_marker(data):  # perhaps the marker's start: read to the line end
            chunk = await _read_until(reader, b"\n")
        else:
            chunk = await _read_until(reader, END_OF_DATA)
        data += chunk
        if data.endswith(END_OF_DATA):
            break
        if max_bytes and len(data) > max_bytes + len(END_OF_DATA):
            too_much = True
            del data[:-4]  # read on to the end, keeping only what the marker needs
    if too_much or (max_bytes and len(data) - len(END_OF_DATA) > max_bytes):
        raise TooMuchData
    del data[-3:]  # ".\r\n"; the CRLF before it ends the last line
    # A dot that begins a line was added by the sender (RFC 5321 4.5.2); the first line
    # begins after the leading CRLF, which is then dropped. At most two copies of a
    # message (up to 25 MB) at once.
    if b"\r\n." in data:
        data = data.replace(b"\r\n.", b"\r\n")
    del data[:2]
    return bytes(data)


def _may_begin_marker(text: bytes) -> bool:
    """Whether ``text`` ends with the first bytes of an end-of-data marker."""
    return any(END_OF_DATA.startswith(text[-size:]) for size in range(1, len(END_OF_DATA)))


async def _read_until(reader: asyncio.StreamReader, separator: bytes) -> bytes:
    """Up to and including ``separator``, or as much as the buffer limit allows (which
    then holds no ``separator``)."""
    try:
        return await reader.readuntil(separator)
    except asyncio.LimitOverrunError as over:
        return await reader.readexactly(over.consumed)


class _IntakeSMTP(SMTP):
    """aiosmtpd's protocol with RFC 3463 status codes on its two size refusals, lines of
    any length accepted (real clients send lines longer than RFC 5321's 1,000 octets, HTML
    on one line, and Postfix relays them: refusing would lose the mail; the message size
    limit still bounds what one connection can send), and two of its methods made
    cheaper for a help desk's mail rate: DATA read at once rather than line by line
    (``read_data``), and an address parsed without defining a class per call."""

    line_length_limit = 1 << 20  # the stream reader's buffer, and the command line limit

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._decode_data:  # smtp_DATA below hands the handler bytes, never text
            raise ValueError("the intake's SMTP server takes mail as bytes (decode_data=False)")

    async def push(self, status):
        if isinstance(status, str) and status.startswith("552 Error"):
            status = TOO_BIG
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The address of ``MAIL FROM:`` or ``RCPT TO:`` and the parameters after it, as
        aiosmtpd parses them (with the email package's parser); (None, None) if it is not
        one. aiosmtpd's own defines a typing Protocol on every call: 35 µs, twice a mail."""
        if not arg:
            return "", ""
        parse = get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec
        try:
            address, rest = parse(arg)
        except HeaderParseError:
            return None, None
        local_part = address.addr_spec.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        return address.addr_spec, rest

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit)
        except TooMuchData:
            self._set_post_data_state()
            await self.push(TOO_BIG)
            return
        except asyncio.CancelledError:  # the connection was lost (aiosmtpd cancels)
            logger.info("connection lost during DATA from %s", _peer(self.session))
            self._writer.close()
            raise
        except asyncio.IncompleteReadError:  # the sender closed its side mid-message
            logger.info("connection closed during DATA by %s", _peer(self.session))
            self._writer.close()
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class IntakeController(Controller):
    """Runs an ``IntakeHandler`` in a background thread; ``port=0`` picks a free port
    (read it back from ``.port`` after ``start()``)."""

    def __init__(self, handler: IntakeHandler, *, hostname: str, port: int) -> None:
        super().__init__(
            handler,
            hostname=hostname,
            port=port,
            server_hostname=socket.gethostname(),  # getfqdn() per connection can be slow
            ident="caredesk ESMTP",
            data_size_limit=handler.max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
        )

    def factory(self) -> SMTP:
        return _IntakeSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Called by start() once the server is bound, before it connects to check it.
        if self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def shutdown(self, grace: float = 30.0) -> None:
        """Stop accepting connections, let messages being stored finish (up to ``grace``
        seconds: their senders then get their 250), stop, close the database."""
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)
        if not self.handler.wait_idle(grace):
            logger.warning("stopping with a message still being stored; its sender retries")
        self.stop(no_assert=True)
        self.handler.close()
