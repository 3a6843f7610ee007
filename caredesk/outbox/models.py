"""Durable outgoing email: written in the same transaction as the change that causes it,
delivered by the worker with retries. Nothing is sent from inside a web request."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # permanent failure or out of retries


class OutboundEmail(models.Model):
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    # What caused it, e.g. "ticket:1234" — so a ticket page can show its failed sends
    # without the outbox depending on the tickets app.
    ref = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker holds a row until this time; a crashed worker's lease simply expires.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # deliver_due(): status=pending AND next_attempt_at <= now (AND lease free)
            # ORDER BY next_attempt_at
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)} ({self.status})"
