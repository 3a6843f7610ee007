"""Helpers shared by caredesk's management commands."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db.models import QuerySet


def rows_named(queryset: QuerySet, ids: list[int], what: str) -> QuerySet:
    """``queryset`` narrowed to ``ids`` when any are given; every id must exist."""
    if not ids:
        return queryset
    queryset = queryset.filter(pk__in=ids)
    missing = set(ids) - set(queryset.values_list("pk", flat=True))
    if missing:
        raise CommandError(f"No such {what}: {sorted(missing)}")
    return queryset
