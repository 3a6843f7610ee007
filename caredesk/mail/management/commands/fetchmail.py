"""``caredesk fetchmail [--once] [--interval S] [--limit N]``: poll the IMAP mailboxes.

Every active ``Mailbox`` (admin: Email channel > Mailboxes) is polled in turn: its unseen
messages are stored through ``caredesk.mail.intake``, then marked seen or moved. A
mailbox that fails is logged and recorded in its ``last_error``; the others go on, and
the command keeps running. ``--once`` polls every mailbox once and exits (for cron and
tests); otherwise it polls every ``--interval`` seconds until SIGTERM or SIGINT, which
let the message being stored finish.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from caredesk.mail.fetch import DEFAULT_TIMEOUT, poll_all

logger = logging.getLogger("caredesk.mail.fetch")


def positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Fetch unseen mail from the configured IMAP mailboxes and store it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Poll every mailbox once, then exit."
        )
        parser.add_argument(
            "--interval",
            type=positive,
            default=60.0,
            help="Seconds between polls (default: %(default)s).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="At most this many messages per mailbox per poll (default: all unseen).",
        )
        parser.add_argument(
            "--timeout",
            type=positive,
            default=DEFAULT_TIMEOUT,
            help="Seconds to wait for the IMAP server (default: %(default)s).",
        )

    def handle(self, *args, **options):
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        logger.setLevel(
            {0: logging.WARNING, 1: logging.INFO}.get(options["verbosity"], logging.DEBUG)
        )

        stop = threading.Event()
        handles_signals = threading.current_thread() is threading.main_thread()
        previous = {}
        if handles_signals and not options["once"]:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
        try:
            while True:
                try:
                    results = poll_all(
                        limit=options["limit"],
                        should_stop=stop.is_set,
                        timeout=options["timeout"],
                    )
                except Exception:
                    if options["once"]:
                        raise
                    # The database itself failed (mailbox errors are caught per mailbox):
                    # keep the poller alive and try again after the interval.
                    logger.exception("fetchmail: poll failed; retrying in %ss", options["interval"])
                    results = []
                stored = sum(result.stored for result in results)
                failed = [result.mailbox for result in results if result.error]
                if stored or failed or options["once"]:
                    logger.info(
                        "fetchmail: %d mailbox(es) polled, %d message(s) stored%s",
                        len(results),
                        stored,
                        f", failed: {', '.join(failed)}" if failed else "",
                    )
                if options["once"] or stop.wait(options["interval"]):
                    break
                close_old_connections()  # after a long sleep: drop a connection gone stale
        finally:
            for sig, previous_handler in previous.items():
                signal.signal(sig, previous_handler)
