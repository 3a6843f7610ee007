"""Who may see which tickets. Every route (page, API, attachment URL) asks here."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from caredesk.accounts.models import User

from .models import Attachment, Message, Ticket


def visible_tickets(user: User) -> QuerySet[Ticket]:
    """Agents see every ticket; everyone else sees their own, plus their organization's
    when a manager has allowed sharing for it."""
    if not user.is_authenticated or not user.is_active:
        return Ticket.objects.none()
    if user.is_agent:
        return Ticket.objects.all()
    own = Q(requester=user)
    if user.organization_id and user.organization.shared_tickets:
        own |= Q(organization_id=user.organization_id)
    return Ticket.objects.filter(own)


def shared_with(user: User, ticket: Ticket) -> bool:
    """Whether ``user`` sees ``ticket`` as its requester's colleague: an active member of
    the ticket's organization, which shares its tickets (``visible_tickets``' rule, for
    one ticket)."""
    return (
        user.is_active
        and ticket.organization_id is not None
        and user.organization_id == ticket.organization_id
        and user.organization.shared_tickets
    )


def get_ticket_for(user: User, number: int) -> Ticket:
    """The ticket, or 404 — never 403, so a guessed number reveals nothing."""
    try:
        return (
            visible_tickets(user)
            .select_related("requester", "assignee", "organization")
            .get(pk=number)
        )
    except Ticket.DoesNotExist:
        raise Http404("No such ticket") from None


def visible_messages(user: User, ticket: Ticket) -> QuerySet[Message]:
    messages = ticket.messages.select_related("author").prefetch_related("attachments")
    if not user.is_agent:
        messages = messages.filter(internal=False)
    return messages


def get_attachment_for(user: User, attachment_id: int) -> Attachment:
    qs = Attachment.objects.filter(pk=attachment_id, ticket__in=visible_tickets(user))
    if not user.is_agent:
        # An attachment on an internal note is as private as the note.
        qs = qs.exclude(message__internal=True)
    try:
        return qs.get()
    except Attachment.DoesNotExist:
        raise Http404("No such attachment") from None
