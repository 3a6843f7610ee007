"""The worker parses the next batch of mail in a helper process while it applies this one.

Applying a batch holds the database's writer (on SQLite, the only one) and runs on one
core; parsing needs no database at all, so it can run beside it on the other core. While
``processing`` applies a batch, ``ParseAhead`` parses the messages queued after it; when
their turn comes, their results are ready. Parsing is a pure function of the stored
bytes, which never change, so a result parsed ahead is exactly what parsing them then
would give. A message the helper could not parse (an exception cannot travel back with
its traceback) is parsed again in the worker, which records the real error.

Only ``caredesk worker`` uses a helper; everywhere else (tests, ``caredesk mail``)
messages are parsed in the calling process. This module imports no Django model: the
helper is a fresh interpreter (``spawn``) that only parses.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from .parsing import ParsedMail, parse

logger = logging.getLogger(__name__)


def _parse_all(raws: list[bytes]) -> list[ParsedMail | None]:
    """In the helper: each message's parse, or None where parsing raised."""
    results: list[ParsedMail | None] = []
    for raw in raws:
        try:
            results.append(parse(raw))
        except Exception:  # the worker parses it again and records why
            results.append(None)
    return results


class ParseAhead:
    """One helper process and the results it owes, by ledger id."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._owed: dict[int, tuple[Future, int]] = {}

    def submit(self, rows: list[tuple[int, bytes]]) -> None:
        """Start parsing ``rows`` (ledger id, raw bytes): the next batch. What was owed
        and not taken is forgotten (the worker parses such a message itself)."""
        self._owed = {}
        if not rows:
            return
        try:
            future = self._pool.submit(_parse_all, [bytes(raw) for _, raw in rows])
        except Exception:  # e.g. the helper died: the worker parses alone
            logger.warning("parse-ahead helper unavailable", exc_info=True)
            return
        for position, (pk, _) in enumerate(rows):
            self._owed[pk] = (future, position)

    def take(self, pk: int) -> ParsedMail | None:
        """The parse of message ``pk`` if it was submitted (waiting for it), else None."""
        owed = self._owed.pop(pk, None)
        if owed is None:
            return None
        future, position = owed
        try:
            return future.result()[position]
        except Exception:  # a broken helper: the worker parses it itself
            logger.warning("parse-ahead helper failed; parsing in the worker", exc_info=True)
            return None

    def close(self) -> None:
        self._owed.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
