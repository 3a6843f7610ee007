"""core/checkpoints: the write-ahead log reaches the database file without any commit
doing it, on a SQLite file of its own (so it runs the same in the PostgreSQL pass)."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest
from django.db import connection

from caredesk.core import checkpoints


def test_the_thread_copies_the_log_into_the_database_file(tmp_path):
    path = tmp_path / "desk.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # no commit checkpoints: only the thread
    writer.execute("CREATE TABLE note (body TEXT)")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.stat().st_size
    writer.executemany("INSERT INTO note VALUES (?)", [("x" * 1000,) for _ in range(200)])
    assert path.stat().st_size == before  # all of it still in the log

    thread = checkpoints.in_background(str(path), interval=0.01)
    try:
        assert thread is not None
        assert checkpoints.in_background(str(path)) is None  # once per process and file
        deadline = time.monotonic() + 30
        while path.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.stat().st_size > before + 200 * 1000
    finally:
        thread.stop()
        writer.close()


def test_nothing_is_started_for_an_in_memory_or_postgresql_database(db):
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name:
        pytest.skip("the test database is a file (CAREDESK_TEST_SQLITE)")
    assert checkpoints.start() is None


def test_a_missing_database_is_reported_not_created(tmp_path, caplog):
    path = tmp_path / "not-yet.sqlite3"
    with caplog.at_level(logging.DEBUG, logger="caredesk.core.checkpoints"):
        thread = checkpoints.in_background(str(path), interval=0.01)
        deadline = time.monotonic() + 30
        while len(caplog.records) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        thread.stop()
    assert f"checkpoint of {path} skipped" in caplog.text
    assert [r.levelname for r in caplog.records[:3]] == ["WARNING", "DEBUG", "DEBUG"]
    assert not path.exists()
