"""Build real RFC 5322 messages with the standard library for the mail tests."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.db.models import QuerySet
from django.utils import timezone

from caredesk.mail import intake, spool
from caredesk.mail.choices import Transport
from caredesk.mail.models import InboundMessage

SUPPORT = "support@demo.caredesk.test"


def build(
    *,
    sender: str = "alice@acme.test",
    to: str = SUPPORT,
    subject: str = "Cannot add a volunteer",
    body: str = "When I add a volunteer I get an error.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = message_id or make_msgid(domain="acme.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, content, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def deeply_nested(depth: int = 1000) -> bytes:
    """A small message (~70 KB) whose MIME parts nest ``depth`` deep: the standard
    library's parser raises RecursionError on it."""
    raw = (
        b"From: Bob <bob@bethel.test>\r\nTo: support@desk.test\r\nSubject: deep\r\n"
        b"Message-ID: <deep@bethel.test>\r\nMIME-Version: 1.0\r\n"
    )
    for i in range(depth):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    raw += b"Content-Type: text/plain\r\n\r\nPlease help, the export fails.\r\n"
    for i in reversed(range(depth)):
        raw += b"--b%d--\r\n" % i
    return raw


def deliver(raw: bytes, *, to: tuple[str, ...] = (SUPPORT,)) -> InboundMessage:
    """Store and process one message the way the worker does (acknowledgement included)."""
    from caredesk.mail.outbound import compose_acknowledgements
    from caredesk.mail.processing import process_message

    inbound = stored(intake.receive(raw, transport=Transport.SMTP, envelope_to=to))
    process_message(inbound)
    compose_acknowledgements()
    inbound.refresh_from_db()
    return inbound


def ledger() -> QuerySet[InboundMessage]:
    """The ledger as the worker sees it: what the intake spooled is moved in first."""
    spool.move(limit=1_000_000)
    return InboundMessage.objects.all()


def stored(queue_id: str) -> InboundMessage:
    """The ledger row of a received message, as the worker will find it."""
    return ledger().get(queue_id=queue_id)


def message_id_of(raw: bytes) -> str:
    import email

    return email.message_from_bytes(raw)["Message-ID"].strip("<> ")


def run_async(coroutine):
    """``asyncio.run()`` in a thread of its own: this thread may already run an event loop
    (Playwright's sync API leaves one running after the browser tests)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
