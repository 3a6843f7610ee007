"""Who else is on a ticket right now: a heartbeat from the ticket page, no locks.

The page posts ``viewing`` every 15 s and ``replying`` a second after each burst of
typing. A ``replying`` mark outlives the next few ``viewing`` beats, so the periodic
heartbeat does not hide a reply in progress; it fades to ``viewing`` once the typing
has stopped for ``REPLYING_HOLD``.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from caredesk.accounts.models import User

from .choices import Activity
from .models import Presence, Ticket

HEARTBEAT_SECONDS = 15
# Someone not heard from for this long has left (three missed heartbeats).
WINDOW = timedelta(seconds=45)
# A "viewing" beat does not overwrite a "replying" mark younger than this, so that mark
# is never older than REPLYING_HOLD + one heartbeat < WINDOW while the page is open.
REPLYING_HOLD = WINDOW - timedelta(seconds=HEARTBEAT_SECONDS)


def record(ticket: Ticket, user: User, activity: str, *, force: bool = False) -> None:
    """Upsert the user's presence on the ticket (one or two statements, race-safe)."""
    now = timezone.now()
    if activity == Activity.REPLYING or force:
        Presence.objects.bulk_create(
            [Presence(ticket=ticket, user=user, activity=activity, seen_at=now)],
            update_conflicts=True,
            unique_fields=["ticket", "user"],
            update_fields=["activity", "seen_at"],
        )
        return
    updated = (
        Presence.objects.filter(ticket=ticket, user=user)
        .exclude(activity=Activity.REPLYING, seen_at__gte=now - REPLYING_HOLD)
        .update(activity=activity, seen_at=now)
    )
    if not updated:
        # Either the first beat (insert) or a fresh "replying" mark (left alone).
        Presence.objects.bulk_create(
            [Presence(ticket=ticket, user=user, activity=activity, seen_at=now)],
            ignore_conflicts=True,
        )


def others(ticket: Ticket, user: User) -> list[Presence]:
    """The other people seen on the ticket within the window, replying ones first."""
    rows = (
        Presence.objects.filter(ticket=ticket, seen_at__gte=timezone.now() - WINDOW)
        .exclude(user=user)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    return sorted(rows, key=lambda p: p.activity != Activity.REPLYING)


def purge_departed() -> int:
    """Housekeeping: marks older than the window mean nobody; they are only rows now."""
    deleted, _ = Presence.objects.filter(seen_at__lt=timezone.now() - WINDOW).delete()
    return deleted
