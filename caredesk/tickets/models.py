"""Tickets, their conversation, attachments, and the event trail.

State changes happen only through ``lifecycle.py``; these classes hold data and small
derived properties.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import Activity, Category, Channel, EventKind, MessageKind, Priority, Status


class Ticket(models.Model):
    """A support request. Its primary key is the human-facing number (#1234)."""

    subject = models.CharField(max_length=250)
    # db_index=False on foreign keys whose lookups an index in Meta already serves (it
    # starts with the same column): a second index would only cost writes and disk.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        db_index=False,  # ticket_requester_id
    )
    # Snapshot of the requester's organization when the ticket was opened.
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # ticket_org_id
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.UNCATEGORIZED
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,  # ticket_assignee_status_id
    )
    # The guided questions every intake form asks.
    trying_to_do = models.TextField("What were you trying to do?", blank=True)
    expected = models.TextField("What did you expect to happen?", blank=True)
    actual = models.TextField("What actually happened?", blank=True)
    references = models.TextField(
        "References", blank=True, help_text="Email addresses, Request IDs, links."
    )
    # Where the request came from: page URL, browser, app version, device (widget/API).
    client_context = models.JSONField(default=dict, blank=True)
    # Other people copied on the conversation (email CC); they may reply too.
    cc = models.JSONField(default=list, blank=True)
    # A reply to a closed ticket opens a new ticket that points back to it.
    follow_up_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        db_index=False,  # ticket_follow_up_of
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # Not a column: set by lifecycle.create_ticket on the instance it returns, so that a
    # caller needing the first message (the mail ledger) does not read it back.
    opening_message: Message | None = None
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Queues ordered by ticket number within a status:
            # unclaimed (status=new), all open, pending, on-hold — keyset on id.
            models.Index(fields=["status", "id"], name="ticket_status_id"),
            # Partial indexes hold only the rows their queries can find (every query on
            # them implies the condition): a new ticket, unclaimed, unsolved and no
            # follow-up, writes none of these three.
            # "Mine": assignee=me AND status IN (...) ORDER BY id.
            models.Index(
                fields=["assignee", "status", "id"],
                name="ticket_assignee_status_id",
                condition=Q(assignee__isnull=False),
            ),
            # "Solved recently": status=solved ORDER BY solved_at DESC, id DESC.
            models.Index(
                fields=["status", "solved_at", "id"],
                name="ticket_status_solved",
                condition=Q(solved_at__isnull=False),
            ),
            # The follow-ups of a ticket (portal), and SET_NULL when one is deleted.
            models.Index(
                fields=["follow_up_of"],
                name="ticket_follow_up_of",
                condition=Q(follow_up_of__isnull=False),
            ),
            # Requester's own tickets (portal, "other tickets" on the agent page).
            models.Index(fields=["requester", "id"], name="ticket_requester_id"),
            # Organization-shared visibility in the portal.
            models.Index(fields=["organization", "id"], name="ticket_org_id"),
        ]
        constraints = [
            # Status "new" means unclaimed: the claim moves it to open.
            models.CheckConstraint(
                condition=~Q(status=Status.NEW) | Q(assignee__isnull=True),
                name="ticket_new_is_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def number(self) -> int:
        return self.pk

    @property
    def is_final(self) -> bool:
        return self.status == Status.CLOSED


class Message(models.Model):
    """One entry of the conversation: a public reply or an internal note."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )  # message_ticket_order
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.REPLY)
    internal = models.BooleanField(default=False)  # internal notes never reach the requester
    body = models.TextField()
    # Quoted history and signature folded away from ``body`` for display (email).
    quoted = models.TextField(blank=True)
    # Sanitized HTML (nh3) when the message arrived as HTML email; body is the plain text.
    body_html = models.TextField(blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Not indexed: replies are threaded by mail.ThreadIndex, never by this column.
    message_id = models.CharField(max_length=998, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Ticket page: conversation in order.
            models.Index(fields=["ticket", "created_at", "id"], name="message_ticket_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on #{self.ticket_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Random path: the stored name never comes from the uploader.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", null=True
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=128, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


class Event(models.Model):
    """One row per change of a ticket: who, when, what, from → to (audit trail and timeline)."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", db_index=False
    )  # event_ticket_order
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    from_value = models.CharField(max_length=250, blank=True)
    to_value = models.CharField(max_length=250, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Ticket page timeline.
            models.Index(fields=["ticket", "created_at", "id"], name="event_ticket_order"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ticket_id}: {self.from_value} → {self.to_value}"


class Presence(models.Model):
    """Who is looking at or replying to a ticket right now (heartbeat from the ticket page)."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # presence_ticket_user
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    activity = models.CharField(max_length=8, choices=Activity.choices)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="presence_ticket_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.activity} #{self.ticket_id}"


class SearchDocument(models.Model):
    """The searchable text of one ticket; indexed by FTS5 (SQLite) or a GIN tsvector (PG).

    See ``search.py``: the full-text index itself is created by migration 0002 per vendor.
    """

    ticket = models.OneToOneField(
        Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    document = models.TextField()

    def __str__(self) -> str:
        return f"search document of #{self.ticket_id}"
