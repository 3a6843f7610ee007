"""Full-text search over tickets: SQLite FTS5 or PostgreSQL tsvector, never LIKE.

Each ticket has one ``SearchDocument`` row (subject, requester, guided fields, every
message). Migration 0002 builds the vendor's index over that table: on SQLite an
external-content FTS5 table kept in step by triggers, on PostgreSQL a GIN index on
``to_tsvector('simple', document)``.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import F, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from caredesk.lib.rows import Query, Update, insert_values
from caredesk.lib.text import as_number

from .models import SearchDocument, Ticket

_WORD = re.compile(r"\w[\w@.+-]*", re.UNICODE)


def index_new_ticket(ticket: Ticket, first_message: str) -> None:
    """Create the ticket's document (inside the rule's transaction). ``first_message``:
    its free text, if any; the guided fields are the ticket's own."""
    parts = [
        ticket.subject,
        ticket.requester.email,
        ticket.requester.name,
        ticket.trying_to_do,
        ticket.expected,
        ticket.actual,
        ticket.references,
        first_message,
    ]
    insert_values(SearchDocument, ticket_id=ticket.pk, document="\n".join(p for p in parts if p))


# Compiled once: every message asks it (lib/rows explains why).
_APPEND = Query(
    lambda number, text: Update(
        SearchDocument.objects.filter(ticket_id=number),
        {"document": Concat(F("document"), Value(text))},
    ),
    int,
    str,
)


def index_message(ticket: Ticket, text: str) -> None:
    """Append one message's text: one UPDATE, not a rebuild from every message."""
    _APPEND(ticket.pk, "\n" + text)


def _terms(query: str) -> list[str]:
    return _WORD.findall(query)[:12]


def _fts5_query(terms: list[str]) -> str:
    # Each term quoted (so @ . - are literal), all required, the last one a prefix.
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    quoted[-1] += "*"
    return " AND ".join(quoted)


def matching_ids_sql(query: str) -> tuple[str, list[str]] | None:
    """SQL selecting the ids of tickets whose document matches every word of ``query``."""
    terms = _terms(query)
    if not terms:
        return None
    if connection.vendor == "sqlite":
        return "SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH %s", [_fts5_query(terms)]
    tsquery = " & ".join("'" + t.replace("'", "''").replace("\\", "") + "':*" for t in terms)
    return (
        "SELECT ticket_id FROM tickets_searchdocument "
        "WHERE to_tsvector('simple', document) @@ to_tsquery('simple', %s)",
        [tsquery],
    )


def _by_number(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket] | None:
    """``#123`` or ``123``: ticket 123, if ``tickets`` holds it."""
    number = as_number(query.lstrip("#"))
    if number is not None:
        by_number = tickets.filter(pk=number)
        if by_number.exists():
            return by_number
    return None


def search(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """Narrow ``tickets`` to matches. ``#123`` or ``123`` also finds ticket 123 by number.

    The result is unordered. To show matches newest first a page at a time, use
    ``newest_first``: ordering this one by id makes the database collect every match first
    (all 100,000 tickets that contain a common word) before it can return the newest 25.
    """
    query = query.strip()
    by_number = _by_number(tickets, query)
    if by_number is not None:
        return by_number
    sql = matching_ids_sql(query)
    if sql is None:
        return tickets.none()
    # The SQL is fixed text; the user's words travel only as a bound parameter.
    return tickets.filter(pk__in=RawSQL(*sql))  # noqa: S611


def newest_first(
    tickets: QuerySet[Ticket], query: str, *, before: int | None = None
) -> QuerySet[Ticket]:
    """Matches of ``query`` among ``tickets``, highest number first, numbered below
    ``before`` (a keyset cursor) if given. Already ordered: slice it, do not re-order it.

    On SQLite the full-text index drives the query in its own rowid (= ticket number)
    order, descending, and each match is joined to its ticket: a page of 25 reads the 25
    newest matches (plus those that other filters on ``tickets`` reject) and stops, however
    many tickets contain the words. The cursor is applied to the index itself, so page 400
    costs what page 1 costs. On PostgreSQL the GIN index yields every match and the
    database keeps the newest (its planner's choice; there is no ordered GIN scan).
    """
    query = query.strip()
    by_number = _by_number(tickets, query)
    if by_number is not None:
        if before is not None:
            by_number = by_number.filter(pk__lt=before)
        return by_number.order_by("-pk")
    terms = _terms(query)
    if not terms:
        return tickets.none()
    if connection.vendor == "sqlite":
        where = ["tickets_fts.rowid = tickets_ticket.id", "tickets_fts MATCH %s"]
        params: list = [_fts5_query(terms)]
        if before is not None:
            where.append("tickets_fts.rowid < %s")
            params.append(before)
        # A join, not "id IN (SELECT rowid ...)": the IN list would be built whole before
        # the first row comes out. extra() because the ORM cannot join a table that has no
        # model; the SQL is fixed text and the words travel as parameters.
        return tickets.extra(  # noqa: S610
            tables=["tickets_fts"], where=where, params=params, order_by=["-tickets_fts.rowid"]
        )
    matches = search(tickets, query)
    if before is not None:
        matches = matches.filter(pk__lt=before)
    return matches.order_by("-pk")
