"""``Idempotency-Key`` on the POSTs that create something (tokens, tickets, messages).

A client that did not hear the answer retries with the same key; it gets the first answer
(status and body, plus ``Idempotent-Replayed: true``) and nothing is created twice. The
same key with a different request (method, path or body: see ``bodies.fingerprint``) is
refused with 422. Keys are per user: two users' keys never meet.

How it holds under crashes and races: the record, with the answer, is the last row the
transaction that creates the ticket (or message, or token) inserts. So a record exists
exactly when the creation committed. A retry finds it first (one indexed read, before
any write) and replays the stored answer. Of two concurrent requests with one key, the
second's insert of the record waits for the first (on PostgreSQL the index entry, on
SQLite the one writer), fails on the unique (user, key) index, rolls its work back and
replays the first's answer. (The record used to be claimed first and its answer written
at the end: a statement more in every creation, for the rare race.) Only successful
answers are kept: a refused request (4xx) stored nothing and may be retried with the
same key.

Records expire after ``API_IDEMPOTENCY_TTL`` (24 h): an expired one is replaced when its
key comes again, and the worker's hourly housekeeping deletes them all (``caredesk.core
.housekeeping``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header
from ninja.responses import NinjaJSONEncoder

from caredesk.accounts.models import User
from caredesk.core import writes
from caredesk.lib.rows import Query, insert_values

from .errors import IDEMPOTENCY_KEY_REUSED, ApiProblem
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

IdempotencyKey = Annotated[
    str | None,
    Header(
        None,
        alias=HEADER,
        description=(
            "A unique value per request (a UUID): a retry with the same key within 24 h "
            "gets the first answer and creates nothing. Reusing it for a different "
            "request is a 422."
        ),
        pattern=r"^[\x21-\x7e]{1,255}$",
        max_length=255,
    ),
]

Payload = dict[str, Any]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _expired_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL)


# Compiled once: every request with a key asks it (lib/rows explains why).
_BY_KEY = Query(
    lambda user_id, digest: IdempotencyRecord.objects.filter(user_id=user_id, key_hash=digest)[:1],
    int,
    str,
)


def _find(user: User, digest: str) -> IdempotencyRecord | None:
    record = _BY_KEY.first(user.pk, digest)
    if record is not None and record.created_at < _expired_before():
        with writes.one_writer():  # a write: through the writer's lock, as every other
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return None
    return record


def _dump(payload: Payload) -> str:
    """The answer's JSON, as ninja renders the answers of other operations (datetimes to
    the millisecond, ``Z`` for UTC), so a created thing reads the same as when it is
    fetched. Not validated again: the same functions build the GET answers, which ninja
    validates against the documented schema (and the tests compare the two)."""
    return json.dumps(payload, cls=NinjaJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _replay(
    record: IdempotencyRecord, fingerprint: str, restore: Callable[[Payload], Payload] | None
) -> HttpResponse:
    if record.fingerprint != fingerprint:
        raise ApiProblem(
            422,
            f"This {HEADER} was already used for a different request. Use a new key for "
            "a new request, and the same body for a retry.",
            type=IDEMPOTENCY_KEY_REUSED,
        )
    body = record.response_body
    if restore is not None:
        body = _dump(restore(json.loads(body)))
    response = HttpResponse(body, status=record.status, content_type=JSON_CONTENT_TYPE)
    response[REPLAYED_HEADER] = "true"
    return response


def respond(
    request: HttpRequest,
    *,
    user: User,
    key: str | None,
    fingerprint: str,
    status: int,
    create: Callable[[], Payload],
    redact: Callable[[Payload], Payload] | None = None,
    restore: Callable[[Payload], Payload] | None = None,
    group: bool = False,
) -> HttpResponse:
    """Run ``create`` (which writes, and returns the JSON answer) in one transaction,
    once per key. ``redact`` shapes what is stored, ``restore`` rebuilds the answer from it
    on a replay (token creation: the secret is never stored). With ``group``, ``create``
    may share its transaction with other requests' (``writes.in_transaction``: it may then
    run again, so it must start from objects of its own)."""
    if not key:
        body = writes.in_transaction(lambda: _dump(create()), group=group)
        return HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)

    digest = key_hash(key)
    taken: list[bool] = []  # set when the record's insert finds the key taken

    def create_and_record() -> str:
        taken.clear()  # a group that failed runs it again
        payload = create()
        body = _dump(payload)
        try:
            insert_values(
                IdempotencyRecord,
                user_id=user.pk,
                key_hash=digest,
                fingerprint=fingerprint,
                status=status,
                response_body=_dump(redact(payload)) if redact else body,
            )
        except IntegrityError:
            taken.append(True)  # the key's, not the creation's (nor one at commit)
            raise
        return body

    for _attempt in range(2):
        # A retry of an answered request is replayed from its record: one indexed read,
        # outside the writer's lock, instead of the creation's work rolled back.
        # An expired record is deleted here, and the key used again.
        existing = _find(user, digest)
        if existing is not None:
            return _replay(existing, fingerprint, restore)
        try:
            body = writes.in_transaction(create_and_record, group=group)
        except IntegrityError:
            if not taken:
                raise  # the creation's own error
            continue  # taken meanwhile by a concurrent request: its answer, next pass
        return HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)
    raise ApiProblem(409, f"Another request with this {HEADER} did not finish; retry it.")


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_expired_before()).delete()
    return deleted
