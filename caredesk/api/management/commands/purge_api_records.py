"""``caredesk purge_api_records``: delete expired idempotency records and rate counters of
past windows. Bookkeeping only; run it every hour or so (cron on the worker's host)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from caredesk.api.idempotency import purge_expired
from caredesk.api.models import RateCounter


class Command(BaseCommand):
    help = "Delete expired API idempotency records and stale rate-limit counters."

    def handle(self, *args, **options):
        records = purge_expired()
        current = int(time.time() // settings.API_RATE_WINDOW)
        counters, _ = RateCounter.objects.filter(bucket__lt=current - 1).delete()
        self.stdout.write(f"Deleted {records} idempotency records and {counters} counters.")
