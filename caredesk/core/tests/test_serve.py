"""``caredesk serve``: the real production server in a subprocess, on its own SQLite file.

It runs the same way in the PostgreSQL pass (the server's database is beside the point
here), so it neither needs nor touches the test database.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import pytest
from django.urls import reverse

from .subprocesses import (
    caredesk,
    isolated_env,
    migrate,
    run,
    sqlite_pass_only,
    start,
    stop,
    wait_until,
)

pytestmark = sqlite_pass_only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, Message, bytes]:
    """(status, headers looked up case-insensitively, body)"""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own http URL)
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def var(tmp_path_factory) -> Path:
    """A var dir with a migrated SQLite database, shared by this module's servers."""
    var = tmp_path_factory.mktemp("serve-var")
    migrate(isolated_env(var))
    return var


@contextmanager
def serving(var: Path, *, workers: int = 1, threads: int = 2):
    """Start ``caredesk serve`` on a free port, wait for /healthz; SIGTERM it afterwards."""
    port = free_port()
    log = var / f"serve-{port}.log"
    proc = start(
        caredesk(
            "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)
        ),
        isolated_env(var),
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/healthz"), proc, log, "caredesk serve")
        yield base, proc, log
    finally:
        stop(proc, signal.SIGTERM)


@pytest.fixture(scope="module")
def server(var):
    with serving(var) as (base, _, _):
        yield base


def test_it_answers_healthz(server):
    base = server
    status, headers, body = get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert headers["Server"] == "granian"


def test_it_serves_static_files_under_plain_and_hashed_names(server, var):
    base = server
    status, headers, css = get(f"{base}/static/caredesk/app.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert css == (Path(__file__).parents[2] / "static/caredesk/app.css").read_bytes()

    manifest = json.loads((var / "static/staticfiles.json").read_text())
    hashed = manifest["paths"]["caredesk/app.css"]
    assert hashed != "caredesk/app.css"
    status, headers, body = get(f"{base}/static/{hashed}")
    assert status == 200
    assert body == css
    assert "immutable" in headers["Cache-Control"]  # hashed names are cached forever


def test_the_login_page_sends_security_headers(server):
    base = server
    status, headers, body = get(base + reverse("login"))
    assert status == 200
    assert b"Sign in" in body
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'nonce-" in csp  # inline scripts only with the per-response nonce
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_idle_keep_alive_connections_do_not_lock_out_other_clients(server):
    """Browsers keep their connections open between pages. The server (one worker, two
    request threads here) must answer a new client while more idle keep-alive
    connections than it has threads stay open: granian's backpressure counts connections,
    so set to the thread count it turned the tenth browser away (it waited forever)."""
    port = int(server.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(12):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            held.append(connection)  # open and idle, as a browser's
    finally:
        for connection in held:
            connection.close()
    assert len(held) == 12


def test_sigterm_stops_it_cleanly(var):
    with serving(var) as (_, proc, log):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    assert "shutdown completed" in log.read_text()


def _api(port: int, token: str | None, path: str, payload: dict, key: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    try:
        connection.request("POST", f"/api/v1{path}", json.dumps(payload), headers)
        response = connection.getresponse()
        return response.status, response.getheader("Idempotent-Replayed"), response.read()
    finally:
        connection.close()


def test_concurrent_creations_and_duplicates_through_two_workers(var):
    """Creations from many clients at once on SQLite: the writes of those that arrive
    together share one transaction (core/writes.py, group commit), across two server
    processes. Each gets its own ticket; a key sent twice at the same moment creates one
    ticket, and both answers are its answer."""
    run(
        isolated_env(var),
        "shell",
        "-c",
        "from caredesk.accounts.models import User\n"
        "for n in range(4):\n"
        "    User.objects.create_user(f'req{n}@example.org', 'concurrent-pass')",
    )
    with serving(var, workers=2, threads=4) as (base, _, log):
        port = int(base.rsplit(":", 1)[1])
        tokens = []
        for n in range(4):
            status, _, body = _api(
                port,
                None,
                "/auth/token",
                {"email": f"req{n}@example.org", "password": "concurrent-pass"},
            )
            assert status == 201, body
            tokens.append(json.loads(body)["token"])
        clients, per_client = 8, 12
        barrier = threading.Barrier(clients)
        answers: dict[str, list] = {}
        lock = threading.Lock()

        def client(index: int) -> None:
            token = tokens[index % 4]
            barrier.wait(timeout=30)
            for n in range(per_client):
                # Every fourth request repeats the key of the partner client's request.
                key = f"dup-{index // 2}-{n}" if n % 4 == 0 else f"own-{index}-{n}"
                token_used = tokens[(index // 2) % 4] if n % 4 == 0 else token
                subject = f"Concurrent {key}"
                payload = {
                    "subject": subject,
                    "trying_to_do": "Add a volunteer",
                    "expected": "It is added",
                    "actual": "An error page",
                    "references": "",
                }
                status, replayed, body = _api(port, token_used, "/tickets", payload, key)
                with lock:
                    answers.setdefault(key, []).append((status, replayed, body))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), log.read_text()[-2000:]

    refused = [(k, s, b[:200]) for k, g in answers.items() for s, _, b in g if s != 201]
    assert not refused, refused
    numbers = {}
    for key, group in answers.items():
        bodies = {body for _, _, body in group}
        assert len(bodies) == 1, key  # a duplicate got the first answer, byte for byte
        assert sum(replayed is None for _, replayed, _ in group) == 1, key
        numbers[key] = json.loads(group[0][2])["number"]
    assert len(set(numbers.values())) == len(answers)  # one ticket per key
    counts = subprocess.run(  # noqa: S603 (our own argv)
        caredesk(
            "shell",
            "-c",
            "from caredesk.tickets.models import Ticket; "
            "print(Ticket.objects.filter(subject__startswith='Concurrent').count())",
        ),
        env=isolated_env(var),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(counts.split()[-1]) == len(answers)  # the shell may say more before it
