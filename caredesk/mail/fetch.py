"""IMAP intake: poll each active ``Mailbox`` and store its unseen messages through intake.

Per message, in arrival (UID) order: fetch the raw bytes without touching ``\\Seen``
(``BODY.PEEK[]``), ``intake.receive()`` them (committed), and only then mark the message
seen, or move it to ``move_to``. A crash in between leaves the message unseen: it is
fetched again next time (at least once; the worker recognizes the duplicate), never lost.

One mailbox's failure (connection refused, wrong password, missing folder, ...) is
logged and recorded in ``Mailbox.last_error``; the other mailboxes are polled anyway.
Messages over ``MAIL_MAX_BYTES`` are not fetched: they stay unseen in the mailbox for a
person to deal with, and each poll logs how many there are.
"""

from __future__ import annotations

import email.message
import logging
import os
import ssl
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from imap_tools import AND, BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.consts import MailMessageFlags

from . import intake
from .choices import Transport
from .models import Mailbox

logger = logging.getLogger("caredesk.mail.fetch")

DEFAULT_TIMEOUT = 60.0  # seconds for connecting and for each IMAP command


class MailboxConfigError(Exception):
    """The mailbox cannot be polled as configured (e.g. its password is not available)."""


class RawMailMessage(MailMessage):
    """The bytes exactly as fetched, and nothing parsed. imap-tools (1.16) parses every
    fetched message into ``.obj`` and keeps no copy of its bytes (``.obj.as_bytes()``
    would be a re-serialization). And the standard library's parser raises on some
    messages (``RecursionError`` on MIME parts nested a thousand deep) before we could
    store them: such a message would stay unseen, and stop its mailbox for good. Only
    ``.raw`` and ``.uid`` are used here; the worker parses, and survives any message."""

    def __init__(self, fetch_data: list) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)
        self.obj = email.message.Message()  # unused: nothing here reads headers


def password_for(mailbox: Mailbox) -> str:
    """The mailbox password, from the environment variable or file it names."""
    if mailbox.password_env:
        value = os.environ.get(mailbox.password_env)
        if value is None:
            raise MailboxConfigError(
                f"environment variable {mailbox.password_env} (its password) is not set"
            )
        return value
    if mailbox.password_file:
        try:
            return Path(mailbox.password_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise MailboxConfigError(
                f"cannot read its password file {mailbox.password_file}: {exc.strerror}"
            ) from None
    raise MailboxConfigError("no password_env or password_file is set")


def connect(mailbox: Mailbox, *, timeout: float = DEFAULT_TIMEOUT) -> BaseMailBox:
    """Log in and select ``mailbox.folder``; the caller logs out."""
    password = password_for(mailbox)
    if mailbox.use_ssl:
        # imaplib's default context does not verify the server's certificate: pass one that does.
        client = MailBox(
            mailbox.host, mailbox.port, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    else:
        client = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=timeout)
    client.email_message_class = RawMailMessage
    try:
        client.login(mailbox.username, password, initial_folder=mailbox.folder)
        if mailbox.move_to and not client.folder.exists(mailbox.move_to):
            # Moving would fail *after* storing, and the message would be stored again
            # on every poll: make sure the folder is there first.
            client.folder.create(mailbox.move_to)
    except BaseException:
        _logout(client)
        raise
    return client


def _logout(client: BaseMailBox) -> None:
    with suppress(Exception):  # the connection may already be gone; nothing to save
        client.logout()


def poll(
    mailbox: Mailbox,
    *,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Store the unseen messages of one mailbox, oldest first; return how many.

    Raises on any failure; what was stored before it stays stored and marked.
    """
    max_bytes = settings.MAIL_MAX_BYTES
    client = connect(mailbox, timeout=timeout)
    stored = 0
    try:
        uids = sorted(client.uids(AND(seen=False, size_lt=max_bytes + 1)), key=int)
        oversized = client.uids(AND(seen=False, size_gt=max_bytes))
        if oversized:
            logger.warning(
                "%s: %d unseen message(s) over %d bytes left in %s (UIDs %s)",
                mailbox.name,
                len(oversized),
                max_bytes,
                mailbox.folder,
                ", ".join(oversized[:20]),
            )
        if limit is not None:
            uids = uids[:limit]
        if not uids:
            return 0  # (fetch() with an empty uid_list would fetch ALL messages)
        # bulk=False: one FETCH per message, so one message at a time is in memory.
        for message in client.fetch(uid_list=uids, mark_seen=False, bulk=False):
            if should_stop():
                break
            queue_id = intake.receive(message.raw, transport=Transport.IMAP, mailbox=mailbox.name)
            # Stored and committed: now it may leave the unseen set.
            if mailbox.move_to:
                client.move(message.uid, mailbox.move_to)
            else:
                client.flag(message.uid, MailMessageFlags.SEEN, True)
            stored += 1
            logger.info(
                "%s: stored %s (UID %s, %d bytes)",
                mailbox.name,
                queue_id,
                message.uid,
                len(message.raw),
            )
    finally:
        _logout(client)
    return stored


@dataclass
class PollResult:
    mailbox: str
    stored: int = 0
    error: str = ""


def poll_all(
    *,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[PollResult]:
    """Poll every active mailbox once; a failing one is recorded and the others go on."""
    results = []
    for mailbox in Mailbox.objects.filter(active=True).order_by("name"):
        if should_stop():
            break
        result = PollResult(mailbox.name)
        try:
            result.stored = poll(mailbox, limit=limit, should_stop=should_stop, timeout=timeout)
        except Exception as exc:
            result.error = _describe(exc)
            logger.warning("%s: polling failed: %s", mailbox.name, result.error)
        # update(), not save(): an admin may be editing the mailbox meanwhile.
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=timezone.now(), last_error=result.error
        )
        results.append(result)
    return results


def _describe(exc: Exception) -> str:
    if isinstance(exc, MailboxConfigError):
        return f"configuration: {exc}"
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"[:2000]
