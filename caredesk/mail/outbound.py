"""Mail that tickets cause: the acknowledgement of a new ticket and agents' public
replies. Runs inside the lifecycle transaction (signal receivers), so the outbox rows
and the thread index commit together with the change — or not at all."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone

from caredesk.lib.rows import Query, insert
from caredesk.outbox.services import enqueue_email
from caredesk.tickets.models import Message, Ticket
from caredesk.tickets.signals import public_reply_added, ticket_created

from . import addresses
from .models import AutoReplyLog, ThreadIndex

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
    """Tell the requester we have their request and what happens next."""
    address = ticket.requester.email
    if not acknowledge or not within_auto_reply_cap(address):
        return
    message_id = new_message_id(ticket)
    # A new ticket has no indexed mail yet (its first message is indexed after this
    # transaction announces it): the thread is the message being acknowledged, if any.
    known = [(message.message_id, False)] if message.message_id else []
    headers = _thread_headers(message_id, ticket, known)
    headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: machines must not answer it
    headers["X-Auto-Response-Suppress"] = "All"
    body = render_to_string(
        "mail/acknowledgement.txt",
        {"ticket": ticket, "site_url": settings.SITE_URL, "site_name": settings.SITE_NAME},
    )
    to, cc = _recipients(ticket)
    enqueue_email(
        to, tagged_subject(ticket), body, cc=cc, headers=headers, ref=f"ticket:{ticket.pk}"
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
