"""The email channel's records: every received message as raw bytes with its outcome
(the ledger), and the index of Message-IDs that threads replies onto tickets."""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils import timezone

from .choices import Outcome, Reason, State, Transport


class InboundMessage(models.Model):
    """One received message, stored before anything else happens (nothing is lost).

    Rows in state ``queued`` are the work queue: the worker claims them in arrival order
    (conditional update with a lease), so a crash mid-processing retries without
    duplicates: the ticket message and this row's outcome are written in one transaction.
    """

    # The intake's name for it (the SMTP answer's "Queued as …"); moving it from the spool
    # (mail/spool.py) twice is recognised by it. NULL for mail received before it existed.
    queue_id = models.CharField(max_length=32, null=True, blank=True)  # unique: see Meta
    received_at = models.DateTimeField(default=timezone.now)
    transport = models.CharField(max_length=8, choices=Transport.choices)
    mailbox = models.CharField(max_length=200, blank=True)  # IMAP mailbox / webhook provider
    envelope_from = models.CharField(max_length=998, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)  # duplicates without Message-ID

    # Filled in by processing.
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    subject = models.CharField(max_length=998, blank=True)
    sender = models.CharField(max_length=998, blank=True, db_index=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # inbound_ticket_id
    )
    ticket_message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set while a worker applies it: still set on a queued message means that worker
    # stopped mid-batch (see processing.process_pending), counted in ``interruptions``.
    leased_until = models.DateTimeField(null=True, blank=True)
    interruptions = models.PositiveSmallIntegerField(default=0)
    # When a person sent it back to the queue from quarantine: it is then processed as it
    # is, even if its sender's authentication failed (mail/authentication.py). Nullable,
    # so that SQLite adds the column without rebuilding a table of every raw message.
    released_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # processing.process_pending(): state=queued ORDER BY id
            models.Index(fields=["state", "id"], name="inbound_state_id"),
            # Ledger view for a ticket: ticket=N ORDER BY id
            models.Index(fields=["ticket", "id"], name="inbound_ticket_id"),
        ]
        constraints = [
            # Partial (older rows have none), which also lets SQLite add it as an index
            # instead of rebuilding a table that holds every raw message.
            models.UniqueConstraint(
                fields=["queue_id"],
                condition=models.Q(queue_id__isnull=False),
                name="inbound_queue_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id or self.pk} via {self.transport}: {self.outcome or self.state}"

    @classmethod
    def received(cls, raw: bytes, **fields) -> InboundMessage:
        """A new (unsaved) ledger row for the bytes ``raw``."""
        return cls(raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(), **fields)


class ThreadIndex(models.Model):
    """Every Message-ID caredesk sent or received for a ticket (threading rule 2)."""

    message_id = models.CharField(max_length=998, unique=True)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    outbound = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.message_id} → #{self.ticket_id}"


class PendingAcknowledgement(models.Model):
    """A new ticket whose acknowledgement is still to be written: the ticket's own
    transaction records only this row, and the worker writes the mail once the incoming
    mail is processed (``outbound.compose_acknowledgements``). Mail first, then the
    answers to it: a ticket costs one small row, not a composed message, wherever it came
    from, and a flood of mail is not slowed down by answering it."""

    ticket = models.OneToOneField(
        "tickets.Ticket", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    in_reply_to = models.CharField(max_length=998, blank=True)  # the mail acknowledged
    # A failure to write it (a broken template after a deploy) is tried again later, so
    # that it neither blocks the others nor spins; see outbound.compose_acknowledgements.
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["due_at", "ticket"], name="pending_ack_due")]

    def __str__(self) -> str:
        return f"acknowledgement of #{self.ticket_id}"


class AutoReplyLog(models.Model):
    """Automatic mail caredesk sent to an address: the per-sender cap counts these."""

    address = models.CharField(max_length=998)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # loops.may_auto_reply(): address=X AND sent_at >= since
            models.Index(fields=["address", "sent_at"], name="autoreply_address_time"),
        ]

    def __str__(self) -> str:
        return f"{self.address} at {self.sent_at:%Y-%m-%d %H:%M}"


class Mailbox(models.Model):
    """An IMAP mailbox to poll. The password is never stored here: it is read from the
    environment variable or file named below (12-factor secrets)."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    use_ssl = models.BooleanField(default=True)
    username = models.CharField(max_length=255)
    password_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding it."
    )
    password_file = models.CharField(
        max_length=500, blank=True, help_text="Path of a file holding it."
    )
    folder = models.CharField(max_length=200, default="INBOX")
    move_to = models.CharField(
        max_length=200, blank=True, help_text="Move fetched mail here; empty: mark it seen."
    )
    active = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name
