"""Full-text search over tickets: SQLite FTS5 or PostgreSQL tsvector, never LIKE.

Each ticket has one ``SearchDocument`` row (subject, requester, guided fields, every
message). Migration 0002 builds the vendor's index over that table: on SQLite an
external-content FTS5 table kept in step by triggers, on PostgreSQL a GIN index on
``to_tsvector('simple', document)``.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from .models import SearchDocument, Ticket

_WORD = re.compile(r"\w[\w@.+-]*", re.UNICODE)


def index_ticket(ticket: Ticket) -> None:
    """Rebuild the ticket's document (called by the lifecycle rules inside their transaction)."""
    parts = [
        ticket.subject,
        ticket.requester.email,
        ticket.requester.name,
        ticket.trying_to_do,
        ticket.expected,
        ticket.actual,
        ticket.references,
    ]
    parts.extend(ticket.messages.values_list("body", flat=True))
    SearchDocument.objects.update_or_create(
        ticket=ticket, defaults={"document": "\n".join(p for p in parts if p)}
    )


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


def search(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """Narrow ``tickets`` to matches. ``#123`` or ``123`` also finds ticket 123 by number."""
    query = query.strip()
    number = query.lstrip("#")
    if number.isdigit():
        by_number = tickets.filter(pk=int(number))
        if by_number.exists():
            return by_number
    sql = matching_ids_sql(query)
    if sql is None:
        return tickets.none()
    # The SQL is fixed text; the user's words travel only as a bound parameter.
    return tickets.filter(pk__in=RawSQL(*sql))  # noqa: S611
