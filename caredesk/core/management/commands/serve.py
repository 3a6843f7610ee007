"""``caredesk serve [--host H] [--port P] [--workers N] [--threads T]``: the production server.

Collects static files (whitenoise serves them from ``STATIC_ROOT`` with hashed names and
far-future caching), then *replaces this process* with granian serving the WSGI app.
Exec rather than a child process: SIGTERM/SIGINT from a supervisor, a container runtime
or Ctrl-C reach granian directly, which stops its workers gracefully, and there is no
middle process to forward signals or to leave behind.

Threads: granian runs WSGI apps in a pool of blocking threads per worker; its default
(backlog / workers / 2, i.e. 256) would let each worker hold hundreds of database
connections. ``--threads`` sets the pool (default 2 x cores + 1, the most granian
considers sensible); requests beyond it wait inside the worker for a thread. Granian's
``--backpressure`` is left at its default (backlog / workers, 512 with two workers): it
caps *connections*, not requests, so set to the thread count it let a few browsers' idle
keep-alive connections lock every other client out. The price: a worker whose threads are
all busy still accepts connections, whose requests wait for its threads even when the
other worker is idle.
"""

from __future__ import annotations

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

WSGI_APP = "caredesk.wsgi:application"
DEFAULT_THREADS = 2 * (os.cpu_count() or 1) + 1


def granian_argv(*, host: str, port: int, workers: int, threads: int, access_log: bool):
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        # A worker that dies unexpectedly is replaced; one that will not stop is
        # killed after 30 s so a shutdown cannot hang forever.
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "30",
        "--access-log" if access_log else "--no-access-log",
        WSGI_APP,
    ]


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Collect static files, then serve caredesk with granian (WSGI)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Default: %(default)s")
        parser.add_argument("--port", type=positive, default=8000, help="Default: %(default)s")
        parser.add_argument(
            "--workers", type=positive, default=2, help="Processes (default: %(default)s)."
        )
        parser.add_argument(
            "--threads",
            type=positive,
            default=DEFAULT_THREADS,
            help="Request threads per worker process (default: 2 x cores + 1 = %(default)s).",
        )
        parser.add_argument(
            "--access-log", action="store_true", help="Log every request (granian's format)."
        )
        parser.add_argument(
            "--skip-collectstatic",
            action="store_true",
            help="Serve what STATIC_ROOT already holds (for read-only installs).",
        )

    def handle(self, *args, **options):
        if not options["skip_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        argv = granian_argv(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            threads=options["threads"],
            access_log=options["access_log"],
        )
        self.stdout.write(
            f"caredesk: serving http://{options['host']}:{options['port']}/ "
            f"({options['workers']} workers x {options['threads']} threads)"
        )
        self.stdout.flush()
        sys.stderr.flush()
        # DJANGO_SETTINGS_MODULE and the rest of the environment carry over to granian.
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
        try:
            os.execv(sys.executable, argv)  # noqa: S606 (fixed argv, no shell)
        except OSError as exc:
            raise CommandError(f"could not start granian: {exc}") from exc
