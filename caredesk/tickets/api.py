"""API: tickets for requesters (open, list, read, reply, solve, reopen, attachments) and
for agents (queues, claim, triage, status, assignment).

Thin, as the views are: every change is one ``lifecycle`` function and every read goes
through ``access``, so the API, the web pages and email can never disagree. What the API
adds is its shape: who may call what (a ticket you may not see is a 404, an action your
role may not take on a ticket you see is a 403), schemas, and idempotent creation.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Header, Path, Query, Router, Schema

from caredesk.accounts.choices import OrganizationKind
from caredesk.accounts.models import User
from caredesk.api import idempotency
from caredesk.api.auth import api_user
from caredesk.api.bodies import read_body, text
from caredesk.api.errors import TRANSITION_REFUSED, ApiProblem, forbidden, invalid, responses
from caredesk.api.openapi import request_body
from caredesk.api.pagination import decode_cursor, encode_cursor, next_link
from caredesk.core.writes import one_writer
from caredesk.lib.text import as_number

from . import access, lifecycle, queues
from .choices import Category, Channel, EventKind, MessageKind, Priority, Status
from .models import Attachment, Event, Message, Ticket
from .views.attachments import as_download

router = Router(tags=["tickets"])

SUPPORT_TEAM = "Support team"  # how an agent without a name appears to requesters
TEXT_MAX = 20_000
LIST_PAGE_SIZE = 25
MAX_ID = 2**63 - 1

Number = Annotated[int, Path(..., ge=1, le=MAX_ID, description="The ticket's number.")]
Subject = text(250, min_length=1)
RequiredText = text(TEXT_MAX, min_length=1)
OptionalText = text(TEXT_MAX)

CLIENT_HEADER = "X-Caredesk-Client"
_CLIENT = re.compile(
    r"^(?P<app>[A-Za-z0-9._-]{1,40})/(?P<version>[A-Za-z0-9._+-]{1,40})"
    r"(?: \((?P<device>[^()\x00-\x1f\x7f]{1,150})\))?$"
)
ClientHeader = Annotated[
    str | None,
    Header(
        None,
        alias=CLIENT_HEADER,
        description=(
            "Who is calling: `<app>/<version> (<device>)`. `mobile/4.2.1 (iPhone15,2; "
            "iOS 18.1)` records the ticket or reply as coming from the mobile app, with "
            "the version and device; any other app name is recorded as API."
        ),
        pattern=_CLIENT.pattern,
        max_length=240,
    ),
]


# ---------------------------------------------------------------- schemas: in


class TicketCreate(Schema):
    """A new ticket: the guided questions of every intake form (the portal asks the same)."""

    subject: Subject = Field(description="A few words that say what went wrong.")
    trying_to_do: RequiredText = Field(description="What were you trying to do?")
    expected: OptionalText = Field("", description="What did you expect to happen?")
    actual: RequiredText = Field(
        description="What actually happened? Error messages in their exact words help most."
    )
    references: OptionalText = Field("", description="Email addresses, Request IDs, links.")


class MessageCreate(Schema):
    body: RequiredText
    internal: bool = Field(
        False, description="Agents only: an internal note, never shown to the requester."
    )
    status: Status | None = Field(
        None, description="Agents only: then move the ticket to this status."
    )


class ReopenRequest(Schema):
    body: RequiredText = Field(description="Why it is not solved after all.")


class CategoryChange(Schema):
    category: Category


class PriorityChange(Schema):
    priority: Priority


class StatusChange(Schema):
    status: Status


class Assignment(Schema):
    assignee: int | None = Field(
        ..., ge=1, le=MAX_ID, description="The agent's user id; null returns it to the queue."
    )


class TicketFilters(Schema):
    status: Status | None = None
    cursor: str | None = Field(None, max_length=200, description="next_cursor of a page.")
    limit: int = Field(LIST_PAGE_SIZE, ge=1, le=100)


# The workspace's queues (unclaimed, mine, open, pending, on_hold, solved), as an enum.
QueueName = StrEnum("QueueName", {slug.upper(): slug for slug in queues.QUEUES})


class QueueFilters(Schema):
    category: Category | None = None
    channel: Channel | None = None
    org_kind: OrganizationKind | None = Field(None, description="The organization's kind.")
    q: str | None = Field(
        None,
        max_length=200,
        description="Search every ticket, whatever the queue (newest first), as the "
        "workspace's search box does: words, or #123.",
    )
    cursor: str | None = Field(None, max_length=200, description="next_cursor of a page.")


# ---------------------------------------------------------------- schemas: out


class PersonOut(Schema):
    id: int | None = Field(description="Null for support agents, seen by requesters.")
    name: str
    email: str | None = Field(description="Shown to agents, and to yourself.")


class OrganizationOut(Schema):
    id: int
    name: str
    kind: OrganizationKind


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str = Field(description="Download it here (getAttachment), with the same auth.")


class MessageOut(Schema):
    id: int
    ticket: int = Field(
        description="The ticket's number. A reply to a closed ticket opens a follow-up "
        "ticket: then this is the new ticket's number."
    )
    author: PersonOut | None
    kind: MessageKind
    internal: bool
    body: str
    channel: Channel
    created_at: datetime
    attachments: list[AttachmentOut]


class EventOut(Schema):
    id: int
    kind: EventKind
    actor: PersonOut | None
    from_value: str
    to_value: str
    data: dict[str, Any]
    created_at: datetime


class TicketSummary(Schema):
    number: int
    subject: str
    status: Status
    category: Category
    priority: Priority
    channel: Channel
    requester: PersonOut
    organization: OrganizationOut | None
    assignee: PersonOut | None
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None


class TicketDetail(TicketSummary):
    trying_to_do: str
    expected: str
    actual: str
    references: str
    follow_up_of: int | None
    closed_at: datetime | None
    messages: list[MessageOut] = Field(description="Requesters see public messages only.")
    events: list[EventOut] | None = Field(description="Agents only: the audit trail.")
    client_context: dict[str, Any] | None = Field(
        description="Agents only: app, version and device the ticket was sent from."
    )


class TicketPage(Schema):
    items: list[TicketSummary]
    next_cursor: str | None
    next: str | None = Field(description="The next page's URL; null on the last page.")


class QueuePage(TicketPage):
    queue: QueueName
    scan_limited: bool = Field(
        description="The page stopped after scanning many queue rows for a rare filter "
        "value: fewer items, but next still continues."
    )


# ---------------------------------------------------------------- shaping


def _person(person: User | None, viewer: User) -> dict | None:
    """People as the viewer may see them: requesters see agents by name only, as in the
    portal, and nobody's email but their own."""
    if person is None:
        return None
    if viewer.is_agent or person.pk == viewer.pk:
        return {"id": person.pk, "name": person.display_name, "email": person.email}
    if person.is_agent:
        return {"id": None, "name": person.name or SUPPORT_TEAM, "email": None}
    return {"id": person.pk, "name": person.display_name, "email": None}


def _summary(ticket: Ticket, viewer: User) -> dict:
    org = ticket.organization
    return {
        "number": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "category": ticket.category,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "requester": _person(ticket.requester, viewer),
        "organization": {"id": org.pk, "name": org.name, "kind": org.kind} if org else None,
        "assignee": _person(ticket.assignee, viewer),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "solved_at": ticket.solved_at,
    }


def _message(message: Message, viewer: User, attachments: list[Attachment] | None = None) -> dict:
    """``attachments``: those just stored with a new message (else they are read)."""
    return {
        "id": message.pk,
        "ticket": message.ticket_id,
        "author": _person(message.author, viewer),
        "kind": message.kind,
        "internal": message.internal,
        "body": message.body,
        "channel": message.channel,
        "created_at": message.created_at,
        "attachments": [
            {
                "id": a.pk,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "url": reverse("api:attachment", kwargs={"attachment_id": a.pk}),
            }
            for a in (message.attachments.all() if attachments is None else attachments)
        ],
    }


def _event(event: Event, viewer: User) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "actor": _person(event.actor, viewer),
        "from_value": event.from_value,
        "to_value": event.to_value,
        "data": event.data,
        "created_at": event.created_at,
    }


def _detail(ticket: Ticket, viewer: User, messages: list[dict] | None = None) -> dict:
    """``messages``: already shaped (a new ticket's first one), else they are read."""
    agent = viewer.is_agent
    if messages is None:
        messages = [_message(m, viewer) for m in access.visible_messages(viewer, ticket)]
    events = ticket.events.select_related("actor") if agent else None
    return {
        **_summary(ticket, viewer),
        "trying_to_do": ticket.trying_to_do,
        "expected": ticket.expected,
        "actual": ticket.actual,
        "references": ticket.references,
        "follow_up_of": ticket.follow_up_of_id,
        "closed_at": ticket.closed_at,
        "messages": messages,
        "events": [_event(e, viewer) for e in events] if events is not None else None,
        "client_context": ticket.client_context if agent else None,
    }


def _client(request: HttpRequest, header: str | None) -> tuple[str, dict[str, str]]:
    """The channel and client context from ``X-Caredesk-Client`` (validated by its
    pattern) and the User-Agent."""
    context: dict[str, str] = {}
    channel = Channel.API
    match = _CLIENT.match(header or "")
    if match:
        context = {k: v for k, v in match.groupdict().items() if v}
        if match["app"].lower() == "mobile":
            channel = Channel.MOBILE
    agent = request.headers.get("User-Agent", "")
    if agent:
        context["user_agent"] = agent[:200]
    return channel, context


def _check_uploads(uploads) -> None:
    try:
        lifecycle.validate_uploads(uploads)
    except lifecycle.TransitionError as err:
        raise ApiProblem(413, str(err)) from None


def _as_agent(request: HttpRequest, number: int, action: str) -> tuple[User, Ticket]:
    """The ticket (404 unless visible), then the role (403)."""
    user = api_user(request)
    ticket = access.get_ticket_for(user, number)
    if not user.is_agent:
        raise forbidden(f"Only support agents may {action}.")
    return user, ticket


def _as_requester(request: HttpRequest, number: int) -> tuple[User, Ticket]:
    """Requester-side actions (solve, reopen): whoever sees the ticket as a requester. An
    agent only on a ticket they requested: on others they act with setTicketStatus."""
    user = api_user(request)
    ticket = access.get_ticket_for(user, number)
    if user.is_agent and ticket.requester_id != user.pk:
        raise forbidden("Agents change a ticket's status with setTicketStatus.")
    return user, ticket


# ---------------------------------------------------------------- requesters


@router.post(
    "/tickets",
    response={201: TicketDetail, **responses(400, 401, 413, 415, 422)},
    operation_id="createTicket",
    summary="Open a ticket",
    openapi_extra=request_body(TicketCreate, files=True),
)
def create_ticket(
    request: HttpRequest,
    idempotency_key: idempotency.IdempotencyKey = None,
    client: ClientHeader = None,
) -> HttpResponse:
    """JSON, or multipart/form-data with the same fields plus `attachments` (files). You
    are the requester; an acknowledgement is emailed to you."""
    user = api_user(request)
    body = read_body(request, TicketCreate)
    _check_uploads(body.uploads)
    channel, context = _client(request, client)
    data = body.data

    def create() -> dict:
        ticket = lifecycle.create_ticket(
            requester=user,
            subject=data.subject,
            channel=channel,
            fields=lifecycle.GuidedFields(
                trying_to_do=data.trying_to_do,
                expected=data.expected,
                actual=data.actual,
                references=data.references,
            ),
            uploads=body.uploads,
            client_context=context,
        )
        if ticket.organization_id == user.organization_id:
            ticket.organization = user.organization  # loaded with the token already
        first = ticket.opening_message
        messages = [_message(first, user, first.stored_attachments)]
        return _detail(ticket, user, messages)

    return idempotency.respond(
        request,
        user=user,
        key=idempotency_key,
        fingerprint=body.fingerprint,
        status=201,
        create=create,
        group=True,  # it builds everything anew, and its stored files are undone too
    )


def _own_tickets(user: User) -> QuerySet[Ticket]:
    """As in the portal: your tickets, and your organization's when it shares them.
    Agents list the tickets they requested themselves; they work the queues."""
    tickets = access.visible_tickets(user)
    return tickets.filter(requester=user) if user.is_agent else tickets


@router.get(
    "/tickets",
    response={200: TicketPage, **responses(401, 422)},
    operation_id="listTickets",
    summary="List your tickets",
)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]):
    """Newest first; your organization's too when it shares tickets."""
    user = api_user(request)
    tickets = _own_tickets(user)
    if filters.status:
        tickets = tickets.filter(status=filters.status)
    position = decode_cursor(filters.cursor, "tickets")
    if position:
        before = as_number(position)
        if before is None:
            raise invalid(["query", "cursor"], "Not a cursor of this list.")
        tickets = tickets.filter(pk__lt=before)
    rows = list(
        tickets.select_related("requester", "assignee", "organization").order_by("-id")[
            : filters.limit + 1
        ]
    )
    cursor = None
    if len(rows) > filters.limit:
        rows = rows[: filters.limit]
        cursor = encode_cursor("tickets", str(rows[-1].pk))
    return {
        "items": [_summary(t, user) for t in rows],
        "next_cursor": cursor,
        "next": next_link(request, cursor),
    }


@router.get(
    "/tickets/{number}",
    response={200: TicketDetail, **responses(401, 404, 422)},
    operation_id="getTicket",
    summary="Read a ticket",
)
def get_ticket(request: HttpRequest, number: Number):
    """The conversation: requesters see public messages; agents also see internal notes,
    the events and the client context."""
    user = api_user(request)
    return _detail(access.get_ticket_for(user, number), user)


@router.post(
    "/tickets/{number}/messages",
    response={201: MessageOut, **responses(400, 401, 403, 404, 409, 413, 415, 422)},
    operation_id="postMessage",
    summary="Reply (or add an internal note)",
    openapi_extra=request_body(MessageCreate, files=True),
)
def post_message(
    request: HttpRequest,
    number: Number,
    idempotency_key: idempotency.IdempotencyKey = None,
    client: ClientHeader = None,
) -> HttpResponse:
    """A requester's reply reopens a pending or solved ticket; on a closed ticket it opens
    a follow-up ticket (the answer's `ticket` is then the new number). Agents reply
    publicly (claiming an unclaimed ticket), or add an `internal` note, and may set a
    `status` in the same step."""
    user = api_user(request)
    ticket = access.get_ticket_for(user, number)
    body = read_body(request, MessageCreate)
    data = body.data
    if not user.is_agent and (data.internal or data.status):
        raise forbidden("Only support agents may add internal notes or set a status.")
    _check_uploads(body.uploads)
    channel, _ = _client(request, client)

    def create() -> dict:
        if user.is_agent:
            message = lifecycle.agent_reply(
                ticket,
                user,
                data.body,
                internal=data.internal,
                status=data.status,
                uploads=body.uploads,
            )
        else:
            message = lifecycle.requester_reply(
                ticket, user, data.body, channel=channel, uploads=body.uploads
            )
        return _message(message, user, message.stored_attachments)

    return idempotency.respond(
        request,
        user=user,
        key=idempotency_key,
        fingerprint=body.fingerprint,
        status=201,
        create=create,
    )


@router.post(
    "/tickets/{number}/solve",
    response={200: TicketSummary, **responses(401, 403, 404, 409, 422)},
    operation_id="solveTicket",
    summary="Mark your ticket solved",
)
def solve_ticket(request: HttpRequest, number: Number):
    """The requester says the problem is solved. Solving a solved ticket changes nothing."""
    user, ticket = _as_requester(request, number)
    with one_writer():
        ticket = lifecycle.mark_solved_by_requester(ticket, user)
    return _summary(ticket, user)


@router.post(
    "/tickets/{number}/reopen",
    response={201: MessageOut, **responses(400, 401, 403, 404, 409, 413, 415, 422)},
    operation_id="reopenTicket",
    summary="Reopen a solved or closed ticket",
    openapi_extra=request_body(ReopenRequest, files=True),
)
def reopen_ticket(
    request: HttpRequest,
    number: Number,
    idempotency_key: idempotency.IdempotencyKey = None,
    client: ClientHeader = None,
) -> HttpResponse:
    """Reopening is a reply that says why (as a requester's comment reopens a ticket in
    Zendesk): a solved ticket opens again; a closed one is final, so the reply opens a
    follow-up ticket linked to it (the answer's `ticket` is its number). Any other status
    is a 409: the ticket is still open, post a message instead."""
    user, ticket = _as_requester(request, number)
    body = read_body(request, ReopenRequest)
    if ticket.status not in (Status.SOLVED, Status.CLOSED):
        raise ApiProblem(
            409,
            f"Ticket #{ticket.pk} is {ticket.get_status_display().lower()}, not solved: "
            "post a message to it instead.",
            type=TRANSITION_REFUSED,
        )
    _check_uploads(body.uploads)
    channel, _ = _client(request, client)

    def create() -> dict:
        message = lifecycle.requester_reply(
            ticket, user, body.data.body, channel=channel, uploads=body.uploads
        )
        return _message(message, user, message.stored_attachments)

    return idempotency.respond(
        request,
        user=user,
        key=idempotency_key,
        fingerprint=body.fingerprint,
        status=201,
        create=create,
    )


@router.get(
    "/attachments/{attachment_id}",
    response={200: None, **responses(401, 404, 422)},
    operation_id="getAttachment",
    summary="Download an attachment",
    url_name="attachment",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, always as a download.",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def get_attachment(
    request: HttpRequest, attachment_id: Annotated[int, Path(..., ge=1, le=MAX_ID)]
) -> FileResponse:
    """The same check as the web page's link: the ticket must be visible to you, and an
    internal note's files only to agents."""
    return as_download(access.get_attachment_for(api_user(request), attachment_id))


# ---------------------------------------------------------------- agents


@router.get(
    "/queues/{queue}",
    response={200: QueuePage, **responses(401, 403, 422)},
    operation_id="getQueue",
    summary="A page of an agent queue",
)
def get_queue(request: HttpRequest, queue: QueueName, filters: Query[QueueFilters]):
    """The workspace's queues, in their order (by number; solved: most recently solved
    first), 25 a page."""
    user = api_user(request)
    if not user.is_agent:
        raise forbidden("Only support agents work the queues.")
    wanted = queues.Filters(
        category=filters.category or "",
        channel=filters.channel or "",
        org_kind=filters.org_kind or "",
    )
    q = (filters.q or "").strip()
    scope = "search" if q else f"queue:{queue.value}"
    after = decode_cursor(filters.cursor, scope)
    if q:
        page = queues.search_page(q, filters=wanted, after=after)
    else:
        page = queues.queue_page(queues.QUEUES[queue.value], user, filters=wanted, after=after)
    cursor = encode_cursor(scope, page.next_cursor) if page.next_cursor else None
    return {
        "queue": queue,
        "items": [_summary(t, user) for t in page.tickets],
        "next_cursor": cursor,
        "next": next_link(request, cursor),
        "scan_limited": page.scan_limited,
    }


_AGENT_ERRORS = responses(401, 403, 404, 409, 422)
_AGENT_BODY_ERRORS = responses(400, 401, 403, 404, 409, 422)  # 400: not JSON


@router.post(
    "/tickets/{number}/claim",
    response={200: TicketSummary, **_AGENT_ERRORS},
    operation_id="claimTicket",
    summary="Claim a ticket",
)
def claim_ticket(request: HttpRequest, number: Number):
    """Take an unclaimed ticket. If another agent was first, a 409 (claim-conflict) names
    them in `holder`; claiming your own ticket again changes nothing."""
    user, ticket = _as_agent(request, number, "claim tickets")
    with one_writer():
        ticket = lifecycle.claim(ticket, user)
    return _summary(ticket, user)


@router.post(
    "/tickets/{number}/categorize",
    response={200: TicketSummary, **_AGENT_BODY_ERRORS},
    operation_id="categorizeTicket",
    summary="Set the category",
)
def categorize_ticket(request: HttpRequest, number: Number, change: CategoryChange):
    user, ticket = _as_agent(request, number, "categorize tickets")
    with one_writer():
        ticket = lifecycle.categorize(ticket, change.category, by=user)
    return _summary(ticket, user)


@router.post(
    "/tickets/{number}/priority",
    response={200: TicketSummary, **_AGENT_BODY_ERRORS},
    operation_id="setTicketPriority",
    summary="Set the priority",
)
def set_priority(request: HttpRequest, number: Number, change: PriorityChange):
    user, ticket = _as_agent(request, number, "change the priority")
    with one_writer():
        ticket = lifecycle.set_priority(ticket, change.priority, by=user)
    return _summary(ticket, user)


@router.post(
    "/tickets/{number}/status",
    response={200: TicketSummary, **_AGENT_BODY_ERRORS},
    operation_id="setTicketStatus",
    summary="Change the status",
)
def set_status(request: HttpRequest, number: Number, change: StatusChange):
    """Only the moves the rules allow (a 409 lists them); an unclaimed ticket is claimed
    first. Returning a ticket to the queue is assignTicket with a null assignee."""
    user, ticket = _as_agent(request, number, "change a ticket's status")
    with one_writer():
        ticket = lifecycle.change_status(ticket, change.status, by=user)
    return _summary(ticket, user)


@router.post(
    "/tickets/{number}/assign",
    response={200: TicketSummary, **_AGENT_BODY_ERRORS},
    operation_id="assignTicket",
    summary="Assign to an agent (managers)",
)
def assign_ticket(request: HttpRequest, number: Number, change: Assignment):
    """Support managers hand a ticket to an agent, or (null) back to the unclaimed queue."""
    user, ticket = _as_agent(request, number, "reassign tickets")  # managers: the rules
    assignee = None
    if change.assignee is not None:
        assignee = User.objects.filter(pk=change.assignee).first()
        if assignee is None or not assignee.is_agent:
            raise invalid(["body", "assignee"], "Not an active support agent.")
    with one_writer():
        ticket = lifecycle.assign(ticket, assignee, by=user)
    return _summary(
        Ticket.objects.select_related("requester", "assignee", "organization").get(pk=ticket.pk),
        user,
    )
