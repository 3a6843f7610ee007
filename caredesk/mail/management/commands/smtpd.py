"""``caredesk smtpd [--host H] [--port P]``: receive support mail over SMTP.

Put it behind your MX (or let your MTA relay the support domain to it). It accepts mail
for the support addresses and signed reply addresses only, stores each message's raw
bytes through ``caredesk.mail.intake`` and answers 250 once they are committed; the
worker processes them. Runs until SIGTERM or SIGINT, then stops accepting connections,
lets messages being stored finish and exits 0. One log line per message.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from caredesk.mail.smtpd import IntakeController, IntakeHandler

logger = logging.getLogger("caredesk.mail.smtpd")


class Command(BaseCommand):
    help = "Receive support email over SMTP and store it for the worker."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default=settings.SMTPD_HOST,
            help="Address to listen on (default: %(default)s, from CAREDESK_SMTPD_HOST).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=settings.SMTPD_PORT,
            help="Port to listen on (default: %(default)s, from CAREDESK_SMTPD_PORT).",
        )

    def handle(self, *args, **options):
        # aiosmtpd logs every command at INFO; keep one line per message (ours).
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        logger.setLevel(
            {0: logging.WARNING, 1: logging.INFO}.get(options["verbosity"], logging.DEBUG)
        )

        stop = threading.Event()
        # Signal handlers can only be set from the main thread; restore the previous
        # ones afterwards so that call_command() leaves no trace.
        handles_signals = threading.current_thread() is threading.main_thread()
        previous = {}
        if handles_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())

        handler = IntakeHandler()
        controller = IntakeController(handler, hostname=options["host"], port=options["port"])
        try:
            try:
                controller.start()
            except OSError as exc:
                handler.close()
                raise CommandError(
                    f"cannot listen on {options['host']}:{options['port']}: {exc}"
                ) from exc
            try:
                logger.info(
                    "smtpd listening on %s:%s for %s (and their signed reply addresses), "
                    "messages up to %d bytes",
                    options["host"],
                    controller.port,
                    ", ".join(settings.CAREDESK_SUPPORT_ADDRESSES),
                    handler.max_bytes,
                )
                while not stop.wait(1.0):
                    pass
                logger.info("smtpd stopping: finishing the messages being stored")
            finally:
                controller.shutdown()
            logger.info("smtpd stopped")
        finally:
            for sig, previous_handler in previous.items():
                signal.signal(sig, previous_handler)
