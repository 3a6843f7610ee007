"""A read made once per transaction (core/writes.py: transaction_memo)."""

from __future__ import annotations

import pytest

from caredesk.core import writes


@pytest.mark.django_db(transaction=True)
def test_a_memo_lives_as_long_as_its_transaction():
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return len(reads)

    def body() -> tuple[int, int]:
        return writes.transaction_memo("k", read), writes.transaction_memo("k", read)

    assert writes.in_transaction(body) == (1, 1)  # once within a transaction
    assert writes.in_transaction(body) == (2, 2)  # and again in the next one
    assert writes.transaction_memo("k", read) == 3  # outside any: each time
    assert writes.transaction_memo("k", read) == 4
