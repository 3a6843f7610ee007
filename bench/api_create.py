"""Ticket creation through the REST API: 2,000 tickets from 8 concurrent clients with
token auth, against the production server (``caredesk serve``: granian, 2 workers).

    .venv/bin/python bench/api_create.py                  # 2,000 tickets, 8 clients, SQLite
    .venv/bin/python bench/api_create.py --tickets 400    # a quicker run
    .venv/bin/python bench/api_create.py --postgres postgres://postgres@127.0.0.1:5432/
        # on PostgreSQL: a database caredesk_bench_api is made on that server and dropped

Each client is a thread with its own keep-alive connection (http.client). A creation is
the mobile app's request: JSON guided fields, ``X-Caredesk-Client: mobile/…``, an
``Idempotency-Key`` and a requester's token (one requester per five tickets, so every
ticket is acknowledged by email as in production); it must answer 201, and the database
must hold exactly the tickets sent. The acknowledgements are written by the worker, not
by the request (caredesk/mail/outbound.py): after the timed blocks ``caredesk worker
--batch`` writes them (and hands them to a dummy mail backend); its time and CPU are
printed apart.

In the same run, interleaved with the creations in blocks so that a noisy moment of the
machine hits both alike, the clients call ``GET /api/v1/auth/me``: a trivial authenticated
ninja endpoint through the same server, auth and rate limiting — the framework's ceiling
on this machine. The figures: creations/s as a share of that ceiling (goal: >= 50 %), and
against django-helpdesk's API (3.5 tickets/s, p50 2.0 s with Basic auth; goal: >= 30x).
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import resource
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.lib import common

CLIENTS = 8
ROUNDS = 4  # blocks of creations and of the ceiling, alternating
WARM_CEILING, WARM_CREATIONS = 5, 2  # requests per client before measuring
PASSWORD = "bench-requester-password"  # a throwaway database on the loopback only
HELPDESK_RATE, HELPDESK_P50_MS = 3.5, 2000.0  # shared/bench/PEERS.md
PG_DATABASE = "caredesk_bench_api"

# Requesters and their tokens, made directly (a password login per user would spend the
# setup hashing passwords). Each writes TICKETS_PER_USER tickets: no more than the
# acknowledgement cap (5 an hour per address), so every ticket is acknowledged by email
# as in production, where a requester rarely opens more.
TICKETS_PER_USER = 5
USERS = """
import json
from caredesk.accounts.models import ApiToken, Organization, User
from django.contrib.auth.hashers import make_password
org = Organization.objects.create(name="Bench Network", kind="network")
password = make_password({password!r})
users = User.objects.bulk_create(
    User(email=f"bench-{{i}}@example.org", name=f"Bench {{i}}", organization=org, password=password)
    for i in range({users})
)
tokens = []
for user in users:
    prefix = ApiToken.new_prefix()
    token = prefix + "_" + ApiToken.new_secret()
    ApiToken.objects.create(user=user, name="bench", prefix=prefix, token_hash=ApiToken.hash(token))
    tokens.append(token)
print(json.dumps(tokens))
"""
COUNTS = """
import json
from caredesk.mail.models import AutoReplyLog
from caredesk.tickets.models import Ticket
from django.db.models import Count
channels = dict(Ticket.objects.values_list("channel").annotate(n=Count("id")))
print(json.dumps({"channels": channels, "acknowledged": AutoReplyLog.objects.count()}))
"""


@dataclass
class Phase:
    label: str
    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the phase's blocks, added up
    cpu: float = 0.0  # the server's CPU seconds during the phase's blocks

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds

    def p(self, q: float) -> float:
        return common.percentile(self.samples, q)


# ---------------------------------------------------------------- the database and server


def caredesk(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [common.caredesk_bin(), *args],
        env=env,
        check=True,
        cwd=common.ROOT,
        capture_output=True,
        text=True,
    )
    return done.stdout


def shell(env: dict[str, str], code: str):
    return json.loads(caredesk(env, "shell", "-v", "0", "-c", code).strip().splitlines()[-1])


@contextmanager
def database(var_dir: Path, postgres: str | None) -> Iterator[dict[str, str]]:
    """A new database (SQLite in var_dir, or one made on the PostgreSQL server), migrated;
    the server environment that uses it."""
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    if not postgres:
        env = common.server_env(var_dir)
        caredesk(env, "migrate", "--noinput", "-v", "0")
        yield env
        return
    import psycopg

    server = postgres.rstrip("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    try:
        env = common.server_env(var_dir, DATABASE_URL=f"{server}/{PG_DATABASE}")
        caredesk(env, "migrate", "--noinput", "-v", "0")
        yield env
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


@contextmanager
def serve(var_dir: Path, env: dict[str, str]) -> Iterator[common.Server]:
    """common.serve(), with this run's database (it always uses the SQLite file)."""
    port = common.free_port()
    log = var_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [common.caredesk_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=common.ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = common.Server(port, process, log)
    try:
        common._wait_healthy(server, 90)
        yield server
    finally:
        common._stop(process)


# ---------------------------------------------------------------- requests


def issue_token(client: common.Client, email: str) -> str:
    body = json.dumps({"email": email, "password": PASSWORD, "name": "bench"}).encode()
    response = client.request(
        "POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"}
    )
    if response.status != 201:
        raise common.HTTPError(f"token for {email}: {response.status} {response.text[:300]}")
    return json.loads(response.body)["token"]


def creation(n: int) -> tuple[str, str, bytes, dict[str, str]]:
    payload = {
        "subject": f"Cannot add a volunteer ({n})",
        "trying_to_do": "Add Jo to the Tuesday team from the app",
        "expected": "Jo appears in the team list",
        "actual": f"The app says: Something went wrong (Request ID {n:06x})",
        "references": f"req-{n:06x}",
    }
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
        "X-Caredesk-Client": "mobile/4.2.1 (bench; Linux)",
    }
    return "POST", "/api/v1/tickets", json.dumps(payload).encode(), headers


def ceiling(n: int) -> tuple[str, str, None, dict[str, str]]:
    return "GET", "/api/v1/auth/me", None, {}


def run_block(
    server, clients, tokens, make, count: int, expect: int, phase: Phase, start: int
) -> None:
    """Requests ``start`` … ``start + count - 1`` split over the clients, all at once; request
    n carries token n (mod the tokens). Wall time and server CPU go into ``phase``."""
    per_client = [count // len(clients) + (i < count % len(clients)) for i in range(len(clients))]
    errors: list[str] = []
    barrier = threading.Barrier(len(clients) + 1)
    lock = threading.Lock()

    def work(index: int) -> None:
        client, samples = clients[index], []
        offset = start + sum(per_client[:index])
        barrier.wait()
        for i in range(per_client[index]):
            n = offset + i
            method, path, body, headers = make(n)
            headers["Authorization"] = f"Bearer {tokens[n % len(tokens)]}"
            began = time.perf_counter()
            response = client.request(method, path, body, headers)
            samples.append((time.perf_counter() - began) * 1000)
            if response.status != expect:
                errors.append(f"{method} {path}: {response.status} {response.text[:300]}")
                return
        with lock:
            phase.samples.extend(samples)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    cpu = server.cpu_seconds() or 0.0
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.seconds += time.perf_counter() - began
    phase.cpu += (server.cpu_seconds() or 0.0) - cpu
    if errors:
        raise common.HTTPError(errors[0])


# ---------------------------------------------------------------- the run


def report(created: Phase, top: Phase) -> None:
    rows = [("", "req/s", "p50 ms", "p99 ms", "server CPU ms")]
    for phase in (created, top):
        rows.append(
            (
                phase.label,
                f"{phase.rate:.1f}",
                f"{phase.p(50):.1f}",
                f"{phase.p(99):.1f}",
                f"{phase.cpu * 1000 / len(phase.samples):.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
    share = created.rate / top.rate
    print(f"Creations as a share of the ceiling: {share:.0%} (goal: at least 50 %)")
    print(
        f"Against django-helpdesk's API ({HELPDESK_RATE} tickets/s, p50 "
        f"{HELPDESK_P50_MS:.0f} ms): {created.rate / HELPDESK_RATE:.0f}x the rate (goal: at "
        f"least 30x), p50 {HELPDESK_P50_MS / created.p(50):.0f}x lower"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server (postgres://user@host:port/)"
    )
    args = parser.parse_args()
    clients_n = args.clients
    var_dir = common.BENCH_VAR_DIR / "api_create"
    warm_creations = clients_n * WARM_CREATIONS
    users = -(-(args.tickets + warm_creations) // TICKETS_PER_USER)

    print(f"Machine: {common.machine()}")
    print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}")
    created, top = Phase("POST /api/v1/tickets"), Phase("GET /api/v1/auth/me (ceiling)")
    with database(var_dir, args.postgres) as env:
        tokens = shell(env, USERS.format(users=users, password=PASSWORD))
        with serve(var_dir, env) as server:
            clients = [common.Client("127.0.0.1", server.port) for _ in range(clients_n)]
            # The mobile app's sign-in works (once, not measured: it hashes a password).
            issue_token(clients[0], "bench-0@example.org")
            # Warm up both paths (connections, code, caches): not counted, not kept.
            warm = Phase("warm-up")
            # Every token once: its last-used time is written then (as it is once a minute
            # in use), not during the first timed block, which would slow that block alone.
            warm_ceiling = max(clients_n * WARM_CEILING, len(tokens))
            run_block(server, clients, tokens, ceiling, warm_ceiling, 200, warm, 0)
            run_block(server, clients, tokens, creation, warm_creations, 201, warm, args.tickets)
            per_round = args.tickets // ROUNDS
            for round_ in range(ROUNDS):
                count = per_round if round_ < ROUNDS - 1 else args.tickets - per_round * round_
                start = round_ * per_round
                run_block(server, clients, tokens, ceiling, count, 200, top, start)
                run_block(server, clients, tokens, creation, count, 201, created, start)
            load = common.load_average()
        worker_env = {**env, "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
        before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        caredesk(worker_env, "worker", "--batch")
        worker_wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        counts = shell(env, COUNTS)

    expected = args.tickets + warm_creations
    assert counts["channels"] == {"mobile": expected}, f"tickets in the database: {counts}"
    print(
        f"{args.tickets} creations and {len(top.samples)} ceiling requests, {clients_n} "
        f"clients, {users} requesters"
    )
    print(
        f"Acknowledgements written and sent by `caredesk worker --batch` after the blocks: "
        f"{counts['acknowledged']} of {expected} tickets, {worker_wall:.1f} s, "
        f"{worker_cpu:.1f} s of CPU with its start-up"
    )
    print(f"Load average after the run: {load}")
    report(created, top)


if __name__ == "__main__":
    main()
