"""Cursor pagination: every list answers ``items``, ``next_cursor`` and ``next`` (the URL of
the next page, null on the last). Cursors are opaque to clients — URL-safe base64 of the
list they belong to and a keyset position — so the position's format can change without
breaking anyone, and a cursor from another list is refused (422) instead of misread."""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest

from .errors import invalid


def encode_cursor(scope: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{scope}|{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str) -> str:
    """The position in ``cursor`` ("" for the first page); 422 if it is not one of ours."""
    if not cursor:
        return ""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raw = ""
    got_scope, sep, position = raw.partition("|")
    if not sep or got_scope != scope or not position:
        raise invalid(["query", "cursor"], "Not a cursor of this list: use next_cursor as given.")
    return position


def next_link(request: HttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
