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
import logging
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
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


class _IntakeSMTP(SMTP):
    """aiosmtpd's protocol with RFC 3463 status codes on its two size refusals, and
    lines longer than RFC 5321's 1,000 octets accepted: real clients send them (HTML on
    one line), Postfix relays them, and refusing would lose the mail. The message size
    limit still bounds what one connection can send."""

    line_length_limit = 1 << 20

    async def push(self, status):
        if isinstance(status, str) and status.startswith("552 Error"):
            status = TOO_BIG
        await super().push(status)


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
