"""What every benchmark needs: the real server on a free port, a signed-in client using
only the standard library, latency sampling and a figures table.

Machines are noisy, so a benchmark never prints a bare number alone: it measures a
reference (a trivial request through the same server, e.g. ``/healthz``) in the same run,
interleaved with the pages, and prints each page's ratio to it.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
BENCH_VAR_DIR = Path(os.environ.get("CAREDESK_BENCH_VAR_DIR", ROOT / "var" / "bench"))


def caredesk_bin() -> str:
    """The ``caredesk`` command of the interpreter running the benchmark."""
    candidate = Path(sys.executable).parent / "caredesk"
    return str(candidate) if candidate.exists() else shutil.which("caredesk") or "caredesk"


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The production settings path: DEBUG off, only the loopback address allowed."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="caredesk.settings",
        CAREDESK_VAR_DIR=str(var_dir),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    for name in ("DATABASE_URL", "DB"):  # the bench database is the SQLite file in var_dir
        env.pop(name, None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_field(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine() -> str:
    """Cores, CPU model, memory, Python and SQLite versions, date: the header of a run."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    memory = _proc_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory.split()[0]) / 2**20:.0f} GiB, " if memory else ""
    return (
        f"{os.cpu_count()} cores, {cpu}, {memory}Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU time used so far by process ``root`` and its descendants that
    are still running (Linux /proc; None elsewhere)."""
    try:
        children: dict[int, list[int]] = {}
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            pid = int(entry.name)
            stats[pid] = fields
            children.setdefault(int(fields[1]), []).append(pid)
    except OSError:
        return None
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the server


@dataclass
class Server:
    """``caredesk serve`` (granian) running in its own process group."""

    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far by the server and its worker processes
        (Linux /proc; None elsewhere). Unlike wall time, it hardly depends on what else
        the machine is doing."""
        return tree_cpu_seconds(self.process.pid)


@contextmanager
def serve(var_dir: Path, *, workers: int = 2, timeout: float = 90) -> Iterator[Server]:
    """Start the production server on a free port, wait for ``/healthz``, stop it after.

    ``caredesk serve`` replaces itself with granian (exec), so the process we started is
    the server: SIGTERM to it is the graceful stop; its process group is killed only if it
    does not stop in time.
    """
    port = free_port()
    log = var_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                caredesk_bin(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=server_env(var_dir),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(port, process, log)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"caredesk serve exited ({server.process.returncode}):\n"
                + server.log.read_text(errors="replace")[-3000:]
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {server.base}/healthz after {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group we created at start
        process.wait()


# ---------------------------------------------------------------- the client


class HTTPError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Client:
    """One keep-alive HTTP/1.1 connection with a cookie jar, like one browser tab."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                raw = self.conn.getresponse()
                data = raw.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed an idle keep-alive: reconnect once
                if attempt == 2:
                    raise
        for value in raw.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def login(self, email: str, password: str, *, next_path: str = "/agent/") -> None:
        """Sign in through the real form: CSRF cookie + token, then the session cookie."""
        page = self.get("/accounts/login/")
        if page.status != 200:
            raise HTTPError(f"GET /accounts/login/ -> {page.status}")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if not match or "csrftoken" not in self.cookies:
            raise HTTPError("no CSRF token on the login page")
        form = urlencode(
            {
                "csrfmiddlewaretoken": match.group(1),
                "username": email,
                "password": password,
                "next": next_path,
            }
        ).encode()
        done = self.request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://{self.host}:{self.port}/accounts/login/",
            },
        )
        if done.status != 302 or "sessionid" not in self.cookies:
            raise HTTPError(f"sign-in as {email} failed ({done.status}): {done.text[:500]}")


# ---------------------------------------------------------------- sampling


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p95 is a measured request)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


@dataclass
class Target:
    """One page to sample: a label, a path, and a check that the answer is the real page
    (a redirect to the sign-in page or an error page must not pass as a fast result)."""

    label: str
    path: str
    check: Callable[[Response], str | None] = lambda r: None
    samples: list[float] = field(default_factory=list)
    cpu_ms: float | None = None  # server CPU time per request, see measure_cpu

    def p(self, q: float) -> float:
        return percentile(self.samples, q)


def sample(client: Client, targets: Sequence[Target], *, rounds: int, warmup: int) -> None:
    """Request every target in turn, ``rounds`` times: interleaved, so a noisy moment of the
    machine hits all pages alike instead of one. The first ``warmup`` rounds are dropped."""
    for round_ in range(warmup + rounds):
        for target in targets:
            started = time.perf_counter()
            response = client.get(target.path)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise HTTPError(f"{target.label}: GET {target.path} -> {response.status}")
            if round_ == 0:
                problem = target.check(response)
                if problem:
                    raise HTTPError(f"{target.label}: GET {target.path}: {problem}")
            if round_ >= warmup:
                target.samples.append(elapsed)


def measure_cpu(client: Client, server: Server, targets: Sequence[Target], *, requests: int):
    """Server CPU per request of each target: ``requests`` requests in a row, the server's
    CPU time before and after (clock ticks of 10 ms: a few hundred requests are needed)."""
    for target in targets:
        before = server.cpu_seconds()
        if before is None:
            return
        for _ in range(requests):
            client.get(target.path)
        target.cpu_ms = (server.cpu_seconds() - before) * 1000 / requests


def table(
    reference: Target,
    targets: Sequence[Target],
    *,
    goal_ms: float | None = None,
    markdown: bool = False,
) -> str:
    """p50 / p95 in ms and as a ratio to the reference measured in the same run, and the
    server CPU time per request when measured."""
    ref50, ref95 = reference.p(50), reference.p(95)
    rows = [("page", "p50 ms", "p95 ms", "p50/ref", "p95/ref", "CPU ms", "")]
    for t in [reference, *targets]:
        p50, p95 = t.p(50), t.p(95)
        verdict = ""
        if goal_ms is not None and t is not reference:
            verdict = "ok" if p95 < goal_ms else f"OVER {goal_ms:.0f} ms"
        rows.append(
            (
                t.label + (" (reference)" if t is reference else ""),
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{p50 / ref50:.1f}x",
                f"{p95 / ref95:.1f}x",
                "" if t.cpu_ms is None else f"{t.cpu_ms:.1f}",
                verdict,
            )
        )
    if markdown:
        lines = [
            "| " + " | ".join(rows[0][:-1]) + " |",
            "|---" + "|---:" * (len(rows[0]) - 2) + "|",
        ]
        lines += ["| " + " | ".join(r[:-1]) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_average() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
