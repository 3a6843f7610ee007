"""Support addresses and signed per-ticket reply addresses.

A reply address looks like ``support+t1234.k3j9x2q0ab@desk.example.org``: the ticket
number plus a truncated HMAC of it under SECRET_KEY, so nobody can forge an address
that threads mail onto a ticket they were never sent.
"""

from __future__ import annotations

import hmac
import re
from email.utils import getaddresses

from django.conf import settings
from django.utils.crypto import salted_hmac

_TAG = re.compile(r"^t(?P<number>\d{1,12})\.(?P<sig>[0-9a-f]{10})$")


def normalize(address: str) -> str:
    return address.strip().strip("<>").lower()


def support_addresses() -> list[str]:
    return [normalize(a) for a in settings.CAREDESK_SUPPORT_ADDRESSES]


def primary_address() -> str:
    return support_addresses()[0]


def _signature(number: int) -> str:
    digest = salted_hmac("caredesk.mail.reply-address", str(number), algorithm="sha256")
    return digest.hexdigest()[:10]


def reply_address(ticket_number: int) -> str:
    local, _, domain = primary_address().partition("@")
    return f"{local}+t{ticket_number}.{_signature(ticket_number)}@{domain}"


def ticket_number_from(address: str) -> int | None:
    """The ticket number if ``address`` is a genuine reply address of ours, else None."""
    local, _, domain = normalize(address).partition("@")
    base, plus, tag = local.partition("+")
    if not plus:
        return None
    if f"{base}@{domain}" not in support_addresses():
        return None
    match = _TAG.match(tag)
    if not match:
        return None
    number = int(match["number"])
    if not hmac.compare_digest(match["sig"], _signature(number)):
        return None
    return number


def is_ours(address: str) -> bool:
    """Mail to this address is for caredesk (a support address or a valid reply address)."""
    address = normalize(address)
    return address in support_addresses() or ticket_number_from(address) is not None


def parse_list(*values: str | None) -> list[str]:
    """Lower-cased addresses from header values such as To and Cc, without duplicates."""
    seen: dict[str, None] = {}
    for _name, addr in getaddresses([v for v in values if v]):
        if "@" in addr:
            seen.setdefault(normalize(addr), None)
    return list(seen)
