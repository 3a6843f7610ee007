"""``caredesk mail stats`` and ``caredesk mail retry``: the ledger from the shell."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from caredesk.lib.commands import rows_named
from caredesk.mail import spool
from caredesk.mail.choices import Outcome, State
from caredesk.mail.models import InboundMessage
from caredesk.mail.processing import retry


class Command(BaseCommand):
    help = "Inspect and repair the inbound mail ledger."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("stats", help="Counts of received messages per outcome, as JSON.")
        again = sub.add_parser("retry", help="Queue quarantined messages again.")
        again.add_argument("ids", nargs="*", type=int, help="Ledger ids (default: all).")
        again.add_argument(
            "--release",
            action="store_true",
            help="Vouch for their senders: a failed sender authentication no longer holds "
            "them (name them: never all at once).",
        )

    def handle(self, *args, action: str, **options):
        if action == "stats":
            self._stats()
        else:
            self._retry(options["ids"], release=options["release"])

    def _stats(self) -> None:
        counts = dict.fromkeys(Outcome.values, 0)
        rows = (
            InboundMessage.objects.exclude(outcome="")
            .values_list("outcome")
            .annotate(n=Count("id"))
        )
        counts.update(dict(rows))
        counts["queued"] = InboundMessage.objects.filter(state=State.QUEUED).count()
        counts["spooled"] = spool.count()  # received, not yet moved into the ledger
        counts["total"] = InboundMessage.objects.count()
        self.stdout.write(json.dumps(counts, indent=2))

    def _retry(self, ids: list[int], *, release: bool) -> None:
        if release and not ids:
            raise CommandError("Name the messages to release (their ledger ids).")
        rows = rows_named(InboundMessage.objects.all(), ids, "ledger ids")
        count = retry(rows, release=release)
        self.stdout.write(f"{count} message(s) queued again; the worker processes them next.")
