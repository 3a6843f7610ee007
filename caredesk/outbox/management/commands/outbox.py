"""``caredesk outbox stats`` and ``caredesk outbox retry``: the outbox from the shell."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.db.models import Count

from caredesk.lib.commands import rows_named
from caredesk.outbox.models import DeliveryStatus, OutboundEmail, WebhookDelivery
from caredesk.outbox.services import send_again

KINDS = {"email": OutboundEmail, "webhook": WebhookDelivery}


class Command(BaseCommand):
    help = "Inspect the outbox and send failed deliveries again."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("stats", help="Deliveries per kind and status, as JSON.")
        again = sub.add_parser("retry", help="Send failed deliveries again.")
        again.add_argument("kind", choices=sorted(KINDS), help="email or webhook")
        again.add_argument("ids", nargs="*", type=int, help="Row ids (default: every failed one).")

    def handle(self, *args, action: str, **options):
        if action == "stats":
            self.stdout.write(json.dumps({kind: self._counts(m) for kind, m in KINDS.items()}))
            return
        kind = options["kind"]
        queryset = rows_named(KINDS[kind].objects.all(), options["ids"], f"{kind} deliveries")
        count = send_again(queryset)
        self.stdout.write(f"{count} failed deliveries queued again; the worker sends them next.")

    @staticmethod
    def _counts(model) -> dict[str, int]:
        counts = dict.fromkeys(DeliveryStatus.values, 0)
        counts.update(dict(model.objects.values_list("status").annotate(n=Count("id"))))
        return counts
