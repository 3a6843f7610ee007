"""Run ``caredesk`` commands as real processes, on their own SQLite file under ``var``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

# These processes run on their own SQLite file whatever the test database is, so the
# PostgreSQL pass of `make test` would only repeat them: run them in the SQLite pass.
sqlite_pass_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="uses its own SQLite file: already run in the SQLite pass",
)

STARTUP_TIMEOUT = 60  # generous: a loaded CI box may be slow to import Django


def caredesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "caredesk.cli", *args]


def isolated_env(var: Path, **extra: str) -> dict[str, str]:
    """This environment, minus any database or secret choice, with its own var dir."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DB", "SECRET_KEY", "SECRET_KEY_FILE")
    }
    env.update(
        CAREDESK_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="caredesk.settings",
        DEBUG="false",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run(env: dict[str, str], *args: str) -> None:
    """Run ``caredesk ARGS`` to completion; fail the test with its output if it fails."""
    done = subprocess.run(  # noqa: S603 (our own argv)
        caredesk(*args), env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        pytest.fail(f"caredesk {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def migrate(env: dict[str, str]) -> None:
    run(env, "migrate", "--verbosity", "0")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"{what}: exited with {proc.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready after {STARTUP_TIMEOUT} s:\n{log.read_text()}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen, signum: int) -> int:
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
