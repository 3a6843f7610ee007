"""``caredesk export``: every ticket as one JSON line, with its messages and events.

Streams in keyset batches so a million tickets export in constant memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator

from django.core.management.base import BaseCommand
from django.db.models import Prefetch

from caredesk.tickets.models import Attachment, Event, Message, Ticket

BATCH = 500


def _messages(ticket: Ticket) -> list[dict]:
    return [
        {
            "kind": m.kind,
            "internal": m.internal,
            "author": m.author.email if m.author else None,
            "channel": m.channel,
            "created_at": m.created_at.isoformat(),
            "text": m.body,
            "message_id": m.message_id or None,
            "attachments": [
                {"filename": a.filename, "size": a.size, "sha256": a.sha256}
                for a in m.attachments.all()
            ],
        }
        for m in ticket.messages.all()
    ]


def export_rows() -> Iterator[dict]:
    last = 0
    messages = Message.objects.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )
    while True:
        batch = list(
            Ticket.objects.filter(pk__gt=last)
            .order_by("pk")
            .select_related("requester", "organization", "assignee")
            .prefetch_related(Prefetch("messages", queryset=messages))[:BATCH]
        )
        if not batch:
            return
        events = defaultdict(list)
        for event in Event.objects.filter(ticket__in=batch).select_related("actor"):
            events[event.ticket_id].append(
                {
                    "kind": event.kind,
                    "actor": event.actor.email if event.actor else None,
                    "from": event.from_value,
                    "to": event.to_value,
                    "data": event.data,
                    "created_at": event.created_at.isoformat(),
                }
            )
        for t in batch:
            yield {
                "number": t.pk,
                "subject": t.subject,
                "status": t.status,
                "category": t.category,
                "priority": t.priority,
                "channel": t.channel,
                "requester": t.requester.email,
                "organization": t.organization.name if t.organization else None,
                "assignee": t.assignee.email if t.assignee else None,
                "trying_to_do": t.trying_to_do,
                "expected": t.expected,
                "actual": t.actual,
                "references": t.references,
                "follow_up_of": t.follow_up_of_id,
                "created_at": t.created_at.isoformat(),
                "first_response_at": t.first_response_at and t.first_response_at.isoformat(),
                "solved_at": t.solved_at and t.solved_at.isoformat(),
                "closed_at": t.closed_at and t.closed_at.isoformat(),
                "messages": _messages(t),
                "events": events[t.pk],
            }
        last = batch[-1].pk


class Command(BaseCommand):
    help = "Write every ticket as one JSON line (messages in order, attachments, events)."

    def handle(self, *args, **options):
        for row in export_rows():
            self.stdout.write(json.dumps(row, ensure_ascii=False))
