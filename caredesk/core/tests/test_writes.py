"""Writers take turns on SQLite (caredesk/core/writes.py)."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from caredesk.core import writes

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL needs no writer queue"
)


def test_one_writer_at_a_time_among_threads():
    inside, most = 0, 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(200):
            with writes.one_writer():
                with lock:
                    inside += 1
                    most = max(most, inside)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1


def test_a_writer_may_nest():
    with writes.one_writer(), writes.one_writer():
        pass
    assert writes._depth.n == 0


def test_the_lock_file_lies_beside_a_database_file(tmp_path, monkeypatch):
    database = tmp_path / "caredesk.sqlite3"
    monkeypatch.setitem(connection.settings_dict, "NAME", str(database))
    files: dict = {}
    monkeypatch.setattr(writes, "_files", files)

    with writes.one_writer():
        assert (tmp_path / "caredesk.sqlite3-writer.lock").exists()

    for fd in files.values():
        os.close(fd)
