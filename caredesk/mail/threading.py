"""Which ticket does an incoming message belong to? The rules, in order:

1. a recipient is the ticket's signed reply address;
2. In-Reply-To / References name a Message-ID caredesk sent or received for a ticket;
3. the subject carries the ticket tag ``[#1234]`` and the sender is a participant.

Otherwise the message starts a new ticket. Whether the sender may post on the ticket
found (a participant) is decided by the caller: rules 1 and 2 find the thread even for a
stranger, so the stranger's mail becomes a new ticket *linked* to it, never lost and
never silently added to someone else's conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from caredesk.accounts.models import User
from caredesk.lib.rows import Query
from caredesk.tickets import access
from caredesk.tickets.models import Ticket

from . import addresses
from .choices import Reason
from .models import ThreadIndex

SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")
MAX_NUMBER = 2**63 - 1  # ticket numbers are 64-bit keys


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    reason: str


# Mailbox providers whose users share a domain without being colleagues.
PUBLIC_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "fastmail.com",
    }
)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def participation(ticket: Ticket, address: str, *, proven: bool = False) -> str | None:
    """How ``address`` takes part in the ticket's conversation, or None for a stranger.

    "colleague": an active member of the ticket's organization when it shares its
    tickets (someone who may read it in the portal anyway); or, when the mail
    ``proven`` it had a mail of this thread (it came to the ticket's signed reply
    address, or answers a Message-ID of the thread), someone at the requester's own
    mail domain (not a public mailbox provider's): a colleague the thread was forwarded
    to, answering in it as teams do. Never by the domain alone: a ticket's ``[#N]`` tag
    is guessable, and a stranger there would join any ticket and be copied on every
    answer."""
    address = addresses.normalize(address)
    requester = ticket.requester.email.lower()
    if address == requester:
        return "requester"
    if address in ticket.cc:
        return "copied"
    user = User.objects.find(address)
    if user is not None:
        if user.is_agent:
            return "agent"
        if access.shared_with(user, ticket):
            return "colleague"
    domain = _domain(address)
    if proven and domain == _domain(requester) and domain not in PUBLIC_DOMAINS:
        return "colleague"
    return None


def is_participant(ticket: Ticket, address: str) -> bool:
    return participation(ticket, address) is not None


# Compiled once: each incoming message asks these (lib/rows explains why).
_TICKET = Query(lambda number: Ticket.objects.select_related("requester").filter(pk=number), int)
_INDEXED = Query(
    lambda message_id: ThreadIndex.objects.filter(message_id=message_id).values_list(
        "outbound", "ticket_id"
    ),
    str,
)


def indexed(message_id: str) -> tuple[bool, int] | None:
    """(sent by caredesk, ticket number) of a Message-ID in the thread index, or None."""
    return _INDEXED.first(message_id[:998])


def _ticket(number: int) -> Ticket | None:
    return _TICKET.first(number) if number <= MAX_NUMBER else None


def by_reply_address(recipients: Iterable[str]) -> Match | None:
    for address in recipients:
        number = addresses.ticket_number_from(address)
        if number is not None:
            ticket = _ticket(number)
            if ticket:
                return Match(ticket, Reason.REPLY_ADDRESS)
    return None


def by_headers(in_reply_to: list[str], references: list[str]) -> Match | None:
    # The direct parent first, then the references from the newest back: usually the
    # first one asked is known, so one lookup each rather than one IN over them all.
    for message_id in dict.fromkeys([*in_reply_to, *reversed(references)][:50]):
        entry = indexed(message_id)
        if entry is not None:
            ticket = _ticket(entry[1])
            if ticket is not None:
                return Match(ticket, Reason.HEADER)
    return None


def by_subject_tag(subject: str, sender: str) -> Match | None:
    for number in SUBJECT_TAG.findall(subject):
        ticket = _ticket(int(number))
        if ticket and is_participant(ticket, sender):
            return Match(ticket, Reason.SUBJECT_TAG)
    return None


def find_thread(
    *,
    recipients: Iterable[str],
    in_reply_to: list[str],
    references: list[str],
    subject: str,
    sender: str,
) -> Match | None:
    return (
        by_reply_address(recipients)
        or by_headers(in_reply_to, references)
        or by_subject_tag(subject, sender)
    )
