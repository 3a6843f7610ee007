"""Ticket events for integrators, queued as signed webhooks in the lifecycle transaction.

Events: ``ticket.created``, ``ticket.replied`` (public messages only: internal notes and
recorded automatic mail never leave), ``ticket.status_changed``.
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from caredesk.outbox.services import enqueue_webhooks

from .models import Message, Ticket
from .signals import message_added, status_changed, ticket_created


def ticket_data(ticket: Ticket) -> dict:
    return {
        "number": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "category": ticket.category,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "requester": ticket.requester.email,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "url": f"{settings.SITE_URL}/agent/tickets/{ticket.pk}/",
    }


def message_data(message: Message) -> dict:
    return {
        "id": message.pk,
        "kind": message.kind,
        "author": message.author.email if message.author else None,
        "channel": message.channel,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "attachments": [
            {"filename": a.filename, "size": a.size, "sha256": a.sha256}
            for a in message.attachments.all()
        ],
    }


@receiver(ticket_created, dispatch_uid="tickets.webhook.created")
def on_created(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    enqueue_webhooks(
        "ticket.created", lambda: {"ticket": ticket_data(ticket), "message": message_data(message)}
    )


@receiver(message_added, dispatch_uid="tickets.webhook.replied")
def on_message(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    if message.internal:
        return
    enqueue_webhooks(
        "ticket.replied", lambda: {"ticket": ticket_data(ticket), "message": message_data(message)}
    )


@receiver(status_changed, dispatch_uid="tickets.webhook.status")
def on_status(sender, ticket: Ticket, from_status: str, to_status: str, actor, **kwargs) -> None:
    enqueue_webhooks(
        "ticket.status_changed",
        lambda: {
            "ticket": ticket_data(ticket),
            "from": from_status,
            "to": to_status,
            "actor": actor.email if actor else None,
        },
    )
