"""``caredesk housekeeping``: run every housekeeping sweep now (the worker runs them once
an hour by itself) and print what each deleted, as JSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from caredesk.core import housekeeping


class Command(BaseCommand):
    help = "Delete expired bookkeeping rows now (the worker does it hourly)."

    def handle(self, *args, **options):
        deleted = housekeeping.run()
        self.stdout.write(json.dumps({k.rsplit(".", 1)[-1]: n for k, n in deleted.items()}))
        if len(deleted) < len(housekeeping.SWEEPS):
            raise SystemExit(1)  # a sweep failed (logged)
