"""Mail that tickets cause: the acknowledgement of a new ticket and agents' public
replies. The receivers run inside the lifecycle transaction, so what they write commits
together with the change, or not at all: an agent's reply goes to the outbox at once;
a new ticket records a pending acknowledgement, which the worker writes into the outbox
right after the incoming mail (``compose_acknowledgements``)."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone

from caredesk.core.writes import one_writer
from caredesk.lib.rows import Query, insert, insert_values
from caredesk.outbox.services import backoff, enqueue_email
from caredesk.tickets.choices import Status
from caredesk.tickets.models import Message, Ticket
from caredesk.tickets.signals import public_reply_added, ticket_created

from . import addresses
from .models import AutoReplyLog, PendingAcknowledgement, ThreadIndex

logger = logging.getLogger(__name__)

_TAG = re.compile(r"\[#(\d+)\]")
MAX_REFERENCES = 20


def tagged_subject(ticket: Ticket) -> str:
    """The subject with the ticket tag, added once."""
    subject = ticket.subject
    if _TAG.search(subject):
        return subject
    return f"[#{ticket.pk}] {subject}"


def new_message_id(ticket: Ticket, message: Message | None = None) -> str:
    """A caredesk Message-ID (without <>), unique and recognisable in bounces."""
    domain = addresses.primary_address().partition("@")[2]
    part = f".m{message.pk}" if message else ""
    return f"caredesk.t{ticket.pk}{part}.{secrets.token_hex(6)}@{domain}"


def _thread_headers(message_id: str, ticket: Ticket, known: list[tuple[str, bool]]) -> dict:
    """Message-ID, Reply-To and the threading headers, from the ticket's ``known``
    Message-IDs (oldest first, each with whether caredesk sent it)."""
    references = [mid for mid, _ in known][-MAX_REFERENCES:]
    inbound = [mid for mid, outbound in known if not outbound]
    headers = {
        "Message-ID": f"<{message_id}>",
        "Reply-To": addresses.reply_address(ticket.pk),
    }
    if inbound:
        headers["In-Reply-To"] = f"<{inbound[-1]}>"
    if references:
        headers["References"] = " ".join(f"<{mid}>" for mid in references)
    return headers


def _recipients(ticket: Ticket) -> tuple[list[str], list[str]]:
    own = set(addresses.support_addresses())
    to = [ticket.requester.email]
    cc = [a for a in ticket.cc if a not in own and a != ticket.requester.email]
    return to, cc


CAP_WINDOW = timedelta(hours=1)


# Compiled once: every new ticket asks it (lib/rows explains why).
_SENT_SINCE = Query(
    lambda address, since: (
        AutoReplyLog.objects.filter(address=address, sent_at__gte=since)
        .values("address")
        .annotate(sent=Count("id"))
        .values_list("sent")
    ),
    str,
    datetime,
)


def within_auto_reply_cap(address: str) -> bool:
    counted = _SENT_SINCE.first(address, timezone.now() - CAP_WINDOW)
    return (counted[0] if counted else 0) < settings.AUTO_REPLY_LIMIT_PER_HOUR


def purge_auto_reply_log() -> int:
    """Housekeeping: the cap only counts the last hour; a day is kept for looking back."""
    cutoff = timezone.now() - max(CAP_WINDOW, timedelta(days=1))
    deleted, _ = AutoReplyLog.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


@receiver(ticket_created, dispatch_uid="mail.acknowledge")
def acknowledge(sender, ticket: Ticket, message: Message, acknowledge: bool, **kwargs) -> None:
    """Record that the requester is to be told we have their request (written later by
    compose_acknowledgements, see PendingAcknowledgement)."""
    if acknowledge:
        insert_values(PendingAcknowledgement, ticket_id=ticket.pk, in_reply_to=message.message_id)


ACKNOWLEDGEMENT_ATTEMPTS = 8


def due_acknowledgements():
    return PendingAcknowledgement.objects.filter(due_at__lte=timezone.now())


def compose_acknowledgements(limit: int = 200) -> int:
    """Write the due acknowledgements of new tickets, oldest first, into the outbox;
    returns how many were done with (written, or not needed). Runs in the worker under
    the mail lease. Each row is claimed by deleting it in the transaction that writes its
    mail, so a second composer (one that outlived its lease) writes none of them again.
    One that fails is tried again later (backoff), and given up after
    ``ACKNOWLEDGEMENT_ATTEMPTS`` with an error in the log: it is a courtesy, the ticket
    and its mail are kept whatever happens to it."""
    done = 0
    with one_writer(), transaction.atomic():
        pending = list(
            due_acknowledgements()
            .select_related("ticket__requester")
            .order_by("due_at", "ticket")[:limit]
        )
        for row in pending:
            try:
                with transaction.atomic():  # one failing acknowledgement stops no other
                    if PendingAcknowledgement.objects.filter(pk=row.pk).delete()[0]:
                        _acknowledge(row.ticket, row.in_reply_to)
                        done += 1
            except Exception:
                _failed(row)
    return done


def _failed(row: PendingAcknowledgement) -> None:
    attempts = row.attempts + 1
    if attempts >= ACKNOWLEDGEMENT_ATTEMPTS:
        logger.exception("acknowledgement of #%s failed %d times; given up", row.pk, attempts)
        PendingAcknowledgement.objects.filter(pk=row.pk).delete()
        return
    logger.exception("acknowledgement of #%s failed; tried again later", row.pk)
    PendingAcknowledgement.objects.filter(pk=row.pk).update(
        attempts=attempts, due_at=timezone.now() + backoff(attempts)
    )


def _acknowledge(ticket: Ticket, in_reply_to: str) -> None:
    """Tell the requester we have their request and what happens next, unless the
    per-address cap on automatic mail says enough. The requester alone: the people
    copied hear the agents' answers, but an automatic answer to every address a
    stranger's mail names would let anyone send through the desk, the cap counting one
    address a mail."""
    address = ticket.requester.email
    if ticket.status in (Status.SOLVED, Status.CLOSED) or not within_auto_reply_cap(address):
        return  # nothing to announce any more (spam closed at once), or enough said
    message_id = new_message_id(ticket)
    # The thread is the mail being acknowledged, if the ticket began with one.
    known = [(in_reply_to, False)] if in_reply_to else []
    headers = _thread_headers(message_id, ticket, known)
    headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: machines must not answer it
    headers["X-Auto-Response-Suppress"] = "All"
    body = render_to_string(
        "mail/acknowledgement.txt",
        {"ticket": ticket, "site_url": settings.SITE_URL, "site_name": settings.SITE_NAME},
    )
    enqueue_email(
        [address], tagged_subject(ticket), body, headers=headers, ref=f"ticket:{ticket.pk}"
    )
    insert(ThreadIndex(message_id=message_id, ticket=ticket, outbound=True))
    insert(AutoReplyLog(address=address))


@receiver(public_reply_added, dispatch_uid="mail.send_reply")
def send_reply(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    """Email an agent's public reply to the requester and the people copied."""
    message_id = new_message_id(ticket, message)
    known = ThreadIndex.objects.filter(ticket=ticket).order_by("id")
    headers = _thread_headers(message_id, ticket, list(known.values_list("message_id", "outbound")))
    body = render_to_string(
        "mail/reply.txt",
        {
            "ticket": ticket,
            "message": message,
            "site_url": settings.SITE_URL,
            "site_name": settings.SITE_NAME,
        },
    )
    to, cc = _recipients(ticket)
    enqueue_email(
        to, f"Re: {tagged_subject(ticket)}", body, cc=cc, headers=headers, ref=f"ticket:{ticket.pk}"
    )
    Message.objects.filter(pk=message.pk).update(message_id=message_id)
    insert(ThreadIndex(message_id=message_id, ticket=ticket, outbound=True))
