"""What the API keeps for itself: idempotency records and rate-limit counters.

Both are bookkeeping, not help-desk data: the worker's hourly housekeeping
(``caredesk.core.housekeeping``) deletes what has expired.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first answer to a creating POST sent with an ``Idempotency-Key``.

    Written in the same transaction as what the request created, so a record exists exactly
    when the creation committed. Only a hash of the key is kept: for token creation the key
    is part of what re-derives the token on a replay (see ``caredesk/accounts/api.py``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # idempotency_user_key
    key_hash = models.CharField(max_length=64)
    # SHA-256 of the method, the path and the body (multipart: fields and file hashes).
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One answer per user and key; of two concurrent requests one insert wins.
            models.UniqueConstraint(fields=["user", "key_hash"], name="idempotency_user_key"),
        ]
        indexes = [
            # The purge: WHERE created_at < now - TTL.
            models.Index(fields=["created_at"], name="idempotency_created"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key_hash[:12]} -> {self.status}"


class RateCounter(models.Model):
    """Requests counted in the current fixed window, one row per token, user or address.

    Updated by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per request (see
    ``ratelimit.py``), the same statement on SQLite and PostgreSQL.
    """

    name = models.CharField(max_length=80, primary_key=True)  # "token:12", "ip:192.0.2.1"
    bucket = models.BigIntegerField()  # the window's number: unix time // window
    hits = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.name}: {self.hits} in window {self.bucket}"
