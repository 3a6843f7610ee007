"""Durable outgoing deliveries: written in the same transaction as the change that causes
them, delivered by the worker with retries. Nothing is sent from inside a web request.

One table per kind (email, webhook), sharing the delivery bookkeeping of ``Delivery``;
``services.deliver_due()`` runs each kind through its transport (``transports/``).
"""

from __future__ import annotations

import base64
import secrets

from django.db import models
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # permanent failure or out of retries


class Delivery(models.Model):
    """One send: its state, attempts, and the lease of the worker sending it."""

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
        abstract = True


class OutboundEmail(Delivery):
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    # What caused it, e.g. "ticket:1234" — so a ticket page can show its failed sends
    # without the outbox depending on the tickets app.
    ref = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        indexes = [
            # deliver_due(): status=pending AND next_attempt_at <= now (AND lease free)
            # ORDER BY next_attempt_at
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)} ({self.status})"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives signed event notifications (Standard Webhooks).

    The secret must stay usable to sign, so it is stored as is (unlike API tokens, which
    are only ever compared and are kept hashed); it is shown to managers in the admin.
    """

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, default=new_webhook_secret)
    # Event types to send, e.g. ["ticket.created"]; empty: every event.
    events = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(Delivery):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=64)
    # The Standard Webhooks "webhook-id": the same for every retry, so receivers dedupe.
    msg_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # deliver_due(): status=pending AND next_attempt_at <= now ORDER BY next_attempt_at
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
