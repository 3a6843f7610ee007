"""The agent queues: which tickets each holds, in which order, one keyset page at a time.

Every page is ``WHERE <queue> AND <key> beyond the cursor ORDER BY <key> LIMIT 26`` on an
index that already holds the order (see ``Ticket.Meta.indexes``): no OFFSET and no
COUNT(*) over a whole queue, so page 40,000 costs what page 1 costs. The 26th row only
tells that a next page exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models import Q, QuerySet

from caredesk.accounts.models import User
from caredesk.lib.text import as_number

from . import search
from .choices import Status
from .models import Ticket

PAGE_SIZE = 25
# Queue sizes are counted over at most this many rows; more shows as "999+".
COUNT_CAP = 1000


@dataclass(frozen=True)
class Queue:
    slug: str
    label: str
    statuses: tuple[str, ...]
    mine: bool = False  # only tickets assigned to the viewing agent
    recent_first: bool = False  # ordered by solved_at desc instead of by number

    def tickets(self, user: User, statuses: tuple[str, ...] = ()) -> QuerySet[Ticket]:
        """The queue's members (or those in some of its statuses), unordered."""
        qs = Ticket.objects.all()
        if self.mine:
            qs = qs.filter(assignee=user)
        statuses = statuses or self.statuses
        if len(statuses) == 1:
            return qs.filter(status=statuses[0])
        return qs.filter(status__in=statuses)


QUEUES: dict[str, Queue] = {
    q.slug: q
    for q in (
        # Status "new" always means unassigned (DB constraint ticket_new_is_unassigned).
        Queue("unclaimed", "Unclaimed", (Status.NEW,)),
        Queue("mine", "Mine", (Status.OPEN, Status.PENDING, Status.ON_HOLD), mine=True),
        Queue("open", "Open", (Status.OPEN,)),
        Queue("pending", "Pending", (Status.PENDING,)),
        Queue("on_hold", "On-hold", (Status.ON_HOLD,)),
        Queue("solved", "Solved recently", (Status.SOLVED,), recent_first=True),
    )
}
DEFAULT_QUEUE = "unclaimed"


@dataclass(frozen=True)
class Filters:
    category: str = ""
    channel: str = ""
    org_kind: str = ""  # the kind of the ticket's organization

    def apply(self, qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.category:
            qs = qs.filter(category=self.category)
        if self.channel:
            qs = qs.filter(channel=self.channel)
        if self.org_kind:
            qs = qs.filter(organization__kind=self.org_kind)
        return qs

    def __bool__(self) -> bool:
        return bool(self.category or self.channel or self.org_kind)


@dataclass(frozen=True)
class Page:
    tickets: list[Ticket]
    next_cursor: str | None  # the ``after`` parameter of the next page, None on the last
    # The page stopped looking after SCAN_LIMIT rows of the queue (a rare filter value):
    # fewer rows than PAGE_SIZE, and the next page looks further.
    scan_limited: bool = False


# ---------------------------------------------------------------- cursors

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def encode_solved_cursor(solved_at: dt.datetime, pk: int) -> str:
    """``<solved_at in microseconds since 1970>_<id>``: exact, and plain in a URL."""
    return f"{(solved_at - _EPOCH) // _MICROSECOND}_{pk}"


def decode_solved_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    micros, sep, pk = cursor.partition("_")
    moment, number = as_number(micros), as_number(pk)
    if not sep or moment is None or number is None:
        return None
    try:
        return _EPOCH + moment * _MICROSECOND, number
    except OverflowError:
        return None


def decode_id_cursor(cursor: str) -> int | None:
    return as_number(cursor)


# ---------------------------------------------------------------- pages

# A filter on category, channel or organization kind is checked row by row along the
# queue's index (no index has those columns): a value that matches rarely would read
# the whole queue. A page therefore looks at most this many queue rows.
SCAN_LIMIT = 5_000


def _with_people(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return qs.select_related("requester", "assignee", "organization")


@dataclass(frozen=True)
class _Order:
    """A keyset order: the key columns (the index's), and the cursor that encodes a key."""

    fields: tuple[str, ...]
    descending: bool
    encode: Callable[..., str]
    decode: Callable[[str], tuple | None]

    def _range(self, key: tuple, direction: str, inclusive: bool) -> Q:
        first, *rest = self.fields
        last = "e" if inclusive else ""
        if not rest:
            return Q(**{f"{first}__{direction}{last}": key[0]})
        # Row-value comparison spelled out; the outer bound keeps it an index range.
        (second,) = rest
        return Q(**{f"{first}__{direction}e": key[0]}) & (
            Q(**{f"{first}__{direction}": key[0]})
            | Q(**{first: key[0], f"{second}__{direction}{last}": key[1]})
        )

    def after(self, key: tuple) -> Q:
        """The rows that come after ``key``."""
        return self._range(key, "lt" if self.descending else "gt", inclusive=False)

    def up_to(self, key: tuple) -> Q:
        """The rows that come before ``key``, and ``key`` itself."""
        return self._range(key, "gt" if self.descending else "lt", inclusive=True)

    def key_of(self, ticket: Ticket) -> tuple:
        return tuple(getattr(ticket, f) for f in self.fields)

    def order_by(self) -> list[str]:
        return [f"-{f}" if self.descending else f for f in self.fields]


def _decode_id(cursor: str) -> tuple[int] | None:
    pk = decode_id_cursor(cursor)
    return None if pk is None else (pk,)


BY_NUMBER = _Order(("id",), False, lambda pk: str(pk), _decode_id)
NEWEST_FIRST = _Order(("id",), True, lambda pk: str(pk), _decode_id)
RECENTLY_SOLVED = _Order(("solved_at", "id"), True, encode_solved_cursor, decode_solved_cursor)


def _keyset_page(
    members: QuerySet[Ticket],
    order: _Order,
    *,
    after: str,
    filters: Filters = Filters(),
    window: bool = True,
) -> Page:
    """The PAGE_SIZE members after the cursor ``after`` that pass ``filters`` (looking
    at most SCAN_LIMIT members further, unless ``window`` is False)."""
    position = order.decode(after) if after else None
    if position:
        members = members.filter(order.after(position))
    members = members.order_by(*order.order_by())
    window_end = None
    if filters and window:
        # The key of the SCAN_LIMIT-th queue row from here, read from the index alone,
        # unless the queue ends there anyway.
        ends = list(members.values_list(*order.fields)[SCAN_LIMIT - 1 : SCAN_LIMIT + 1])
        if len(ends) > 1:
            window_end = ends[0]
            members = members.filter(order.up_to(window_end))
    rows = list(_with_people(filters.apply(members))[: PAGE_SIZE + 1])
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        return Page(rows, order.encode(*order.key_of(rows[-1])))
    if window_end is not None:
        return Page(rows, order.encode(*window_end), scan_limited=True)
    return Page(rows, None)


def queue_page(queue: Queue, user: User, *, filters: Filters = Filters(), after: str = "") -> Page:
    """One page of ``queue``; ``after`` is the previous page's ``next_cursor`` (a bad
    cursor gives the first page)."""
    if queue.recent_first:
        # Index ticket_status_solved: status=solved ORDER BY solved_at DESC, id DESC.
        members = queue.tickets(user).filter(solved_at__isnull=False)
        return _keyset_page(members, RECENTLY_SOLVED, after=after, filters=filters)
    if len(queue.statuses) == 1:
        # Index ticket_status_id: status=? AND id > ? ORDER BY id.
        return _keyset_page(queue.tickets(user), BY_NUMBER, after=after, filters=filters)
    # "Mine": one range of ticket_assignee_status_id (assignee, status, id) per status,
    # merged here. With "status IN (...)" SQLite may walk the assignee's whole history
    # (closed tickets included) in id order instead. An agent's open work is small, so
    # these scans need no window.
    # Only the ids are read per range; the page's rows are then loaded once.
    position = BY_NUMBER.decode(after) if after else None
    ids: list[int] = []
    for status in queue.statuses:
        members = filters.apply(queue.tickets(user, (status,)))
        if position:
            members = members.filter(BY_NUMBER.after(position))
        ids.extend(members.order_by("id").values_list("pk", flat=True)[: PAGE_SIZE + 1])
    ids = sorted(ids)[: PAGE_SIZE + 1]
    rows = list(_with_people(Ticket.objects.filter(pk__in=ids)).order_by("id"))
    if len(rows) > PAGE_SIZE:
        return Page(rows[:PAGE_SIZE], str(rows[PAGE_SIZE - 1].pk))
    return Page(rows, None)


def search_page(query: str, *, filters: Filters = Filters(), after: str = "") -> Page:
    """Search every ticket, whatever its status, newest first. (The full-text match
    narrows first; the filters then apply to its matches, no scan window needed.)"""
    before = decode_id_cursor(after) if after else None
    # Already ordered newest first by the full-text index (see search.newest_first):
    # slice it, never re-order it, so a page costs what its 25 rows cost.
    matches = filters.apply(search.newest_first(Ticket.objects.all(), query, before=before))
    rows = list(_with_people(matches)[: PAGE_SIZE + 1])
    if len(rows) > PAGE_SIZE:
        return Page(rows[:PAGE_SIZE], str(rows[PAGE_SIZE - 1].pk))
    return Page(rows, None)


def queue_sizes(user: User) -> dict[str, str]:
    """Each queue's size for the navigation, counted over at most COUNT_CAP index
    entries ("999+" rather than a COUNT(*) over a million rows), all in one statement."""
    selects, params = [], []
    for queue in QUEUES.values():
        capped = queue.tickets(user).values("pk")[:COUNT_CAP]
        sql, sql_params = capped.query.get_compiler(using=capped.db).as_sql()
        # Only ORM-compiled SQL is joined here; every value travels as a parameter.
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608
        params.extend(sql_params)
    with connections[Ticket.objects.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        counts = cursor.fetchone()
    return {
        slug: f"{COUNT_CAP - 1}+" if n >= COUNT_CAP else str(n)
        for slug, n in zip(QUEUES, counts, strict=True)
    }
