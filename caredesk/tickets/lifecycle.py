"""The rules of a ticket's life. Web views, the API and the email path all call these.

Each public function is one transaction that writes the new state and an ``Event`` row
for every change. A rule that refuses raises ``TransitionError`` (or ``ClaimConflict``)
before writing anything, with a message fit to show to the person who tried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.template.defaultfilters import filesizeformat, pluralize
from django.utils import timezone

from caredesk.accounts.models import User
from caredesk.core import writes
from caredesk.lib.rows import insert, insert_values, update
from caredesk.lib.text import one_line

from . import search, signals
from .choices import Category, Channel, EventKind, MessageKind, Priority, Status
from .models import Attachment, Event, Message, Ticket


class TransitionError(Exception):
    """A rule refused the change; nothing was written. ``str(err)`` says why."""


class NotPermitted(TransitionError):
    """The person's role does not allow this change at all, whatever the ticket's state."""


class ClaimConflict(TransitionError):
    def __init__(self, ticket: Ticket, holder: User | None):
        self.holder = holder
        who = holder.display_name if holder else "someone else"
        super().__init__(f"Ticket #{ticket.pk} was already claimed by {who}.")


class Upload(Protocol):
    """What an uploaded file must offer (Django's UploadedFile does)."""

    name: str
    size: int
    content_type: str | None

    def chunks(self) -> Iterable[bytes]: ...


# status -> statuses an agent may move it to. "new" is left only by a claim,
# and entered again only when a manager returns a ticket to the queue.
AGENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED),
    Status.OPEN: (Status.PENDING, Status.ON_HOLD, Status.SOLVED),
    Status.PENDING: (Status.OPEN, Status.ON_HOLD, Status.SOLVED),
    Status.ON_HOLD: (Status.OPEN, Status.PENDING, Status.SOLVED),
    Status.SOLVED: (Status.OPEN, Status.CLOSED),
    Status.CLOSED: (),
}


@dataclass(frozen=True)
class GuidedFields:
    trying_to_do: str = ""
    expected: str = ""
    actual: str = ""
    references: str = ""


EVENT_VALUE_MAX = Event._meta.get_field("to_value").max_length
CHANNELS = frozenset(Channel.values)  # the enum builds a new list on every access
ATTACHMENT_STORAGE = Attachment._meta.get_field("file").storage


def _event(
    ticket: Ticket, actor: User | None, kind: str, from_value="", to_value="", **data
) -> None:
    values = {}
    for name, value in (("from_value", str(from_value)), ("to_value", str(to_value))):
        if len(value) > EVENT_VALUE_MAX:  # e.g. a 254-character address: never a crash
            data[name] = value  # the whole of it; the column shows its start
            value = value[: EVENT_VALUE_MAX - 1] + "…"
        values[name] = value
    insert_values(
        Event,
        ticket_id=ticket.pk,
        actor_id=actor.pk if actor is not None else None,
        kind=kind,
        data=data,
        **values,
    )


def _require_agent(user: User, action: str) -> None:
    if not user.is_agent:
        raise NotPermitted(f"Only support agents may {action}.")


def validate_uploads(uploads: Sequence[Upload]) -> None:
    """Refuse before anything is stored, so a rejected upload leaves no half-ticket."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(uploads) > settings.ATTACHMENTS_PER_MESSAGE:
        raise TransitionError(
            f"At most {settings.ATTACHMENTS_PER_MESSAGE} "
            f"attachment{pluralize(settings.ATTACHMENTS_PER_MESSAGE)} per message."
        )
    for upload in uploads:
        if upload.size > limit:
            raise TransitionError(
                f"“{upload.name}” is {filesizeformat(upload.size)}; "
                f"attachments may be at most {filesizeformat(limit)}."
            )


def _store_attachments(
    ticket: Ticket, message: Message, uploads: Sequence[Upload]
) -> list[Attachment]:
    stored = []
    for upload in uploads:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        attachment = Attachment(
            ticket=ticket,
            message=message,
            filename=(upload.name or "attachment")[-255:],
            content_type=(upload.content_type or "application/octet-stream")[:128],
            size=upload.size,
            sha256=digest.hexdigest(),
        )
        # Copied from the upload, never moved: a large upload is a temporary file that
        # storage would move, and a transaction rolled back runs again with it.
        attachment.file.save(attachment.filename, File(upload.file), save=False)
        stored.append(insert(attachment))
        writes.file_stored(ATTACHMENT_STORAGE, attachment.file.name)
    return stored


def _add_message(
    ticket: Ticket,
    author: User | None,
    body: str,
    *,
    internal: bool,
    channel: str,
    uploads: Sequence[Upload] = (),
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    kind: str = "",
    first: bool = False,
) -> Message:
    message = Message(
        ticket=ticket,
        author=author,
        kind=kind or (MessageKind.NOTE if internal else MessageKind.REPLY),
        internal=internal,
        body=body,
        quoted=quoted,
        body_html=body_html,
        channel=channel,
        message_id=message_id,
    )
    insert(message)
    # Kept on the message, so that an answer about it needs no read-back.
    message.stored_attachments = _store_attachments(ticket, message, uploads)
    if not first:  # the first message is announced by ticket_created
        signals.message_added.send(Ticket, ticket=ticket, message=message)
    return message


def _writes() -> transaction.Atomic:
    """The transaction of a rule's writes, entered once its checks have passed. Alone,
    it is the rule's own transaction; inside a caller's (a mail batch, an idempotent API
    request) it joins it without a savepoint: a refusal was raised before anything was
    written, and an error rolls back the caller's block. Two statements fewer for every
    ticket and message that mail or the API brings."""
    return transaction.atomic(savepoint=False)


def _save(ticket: Ticket, *fields: str, **expected) -> int:
    ticket.updated_at = timezone.now()
    return update(ticket, [*fields, "updated_at"], **expected)


def _set_status(ticket: Ticket, actor: User | None, to: str, **data) -> None:
    """Move to ``to`` and stamp the SLA timestamps; callers have checked the rule against
    ``ticket`` as they read it. The write holds only while the row still has that status:
    if someone else moved the ticket meanwhile (two agents, a solve and a close), this
    one is refused, so a decision is never made on a state that is gone."""
    previous = ticket.status
    if previous == to:
        return
    now = timezone.now()
    ticket.status = to
    fields = ["status"]
    if to == Status.SOLVED:
        ticket.solved_at = now
        fields.append("solved_at")
    elif to == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    elif previous == Status.SOLVED:
        ticket.solved_at = None  # reopened: the next solve is what counts
        fields.append("solved_at")
    if not _save(ticket, *fields, status=previous):
        ticket.refresh_from_db()
        raise TransitionError(
            f"Ticket #{ticket.pk} changed meanwhile: it is "
            f"{Status(ticket.status).label.lower()} now. Reload it and try again."
        )
    _status_event(ticket, actor, previous, to, **data)


def _status_event(ticket: Ticket, actor: User | None, previous: str, to: str, **data) -> None:
    _event(ticket, actor, EventKind.STATUS, previous, to, **data)
    signals.status_changed.send(
        Ticket, ticket=ticket, from_status=previous, to_status=to, actor=actor
    )


# ---------------------------------------------------------------- creation


def create_ticket(
    *,
    requester: User,
    subject: str,
    channel: str,
    fields: GuidedFields = GuidedFields(),
    body: str = "",
    uploads: Sequence[Upload] = (),
    actor: User | None = None,
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    cc: Sequence[str] = (),
    follow_up_of: Ticket | None = None,
    acknowledge: bool = True,
    client_context: dict | None = None,
    event_data: dict | None = None,
) -> Ticket:
    """Open a ticket. The first message is the description (``body``, or the guided
    fields when the intake form had no free text). ``acknowledge=False`` when the intake
    forbids an automatic answer (loop protection)."""
    subject = one_line(subject)
    if not subject:
        raise TransitionError("A ticket needs a subject.")
    if channel not in CHANNELS:
        raise TransitionError(f"Unknown channel {channel!r}.")
    validate_uploads(uploads)
    with _writes():
        now = timezone.now()
        ticket = Ticket(
            subject=subject[:250],
            requester=requester,
            organization_id=requester.organization_id,
            channel=channel,
            trying_to_do=fields.trying_to_do,
            expected=fields.expected,
            actual=fields.actual,
            references=fields.references,
            follow_up_of=follow_up_of,
            cc=list(cc),
            client_context=client_context or {},
            created_at=now,
            updated_at=now,
        )
        insert(ticket)
        author = actor or requester
        message = _add_message(
            ticket,
            author,
            body or describe(fields),
            internal=False,
            channel=channel,
            uploads=uploads,
            message_id=message_id,
            body_html=body_html,
            quoted=quoted,
            first=True,
        )
        _event(
            ticket, author, EventKind.CREATED, "", Status.NEW, channel=channel, **(event_data or {})
        )
        if follow_up_of is not None:
            _event(follow_up_of, author, EventKind.FOLLOW_UP, "", ticket.pk)
        search.index_new_ticket(ticket, body)  # a description of the fields adds no word
        ticket.opening_message = message
        signals.ticket_created.send(Ticket, ticket=ticket, message=message, acknowledge=acknowledge)
    return ticket


def describe(fields: GuidedFields) -> str:
    """The guided answers as the text of the first message."""
    parts = [
        ("What I was trying to do", fields.trying_to_do),
        ("What I expected", fields.expected),
        ("What actually happened", fields.actual),
        ("References", fields.references),
    ]
    return "\n\n".join(f"{title}:\n{text.strip()}" for title, text in parts if text.strip())


# ---------------------------------------------------------------- ownership


@transaction.atomic
def claim(ticket: Ticket, agent: User) -> Ticket:
    """Take an unclaimed ticket. Safe under concurrency: a conditional UPDATE decides,
    so of two agents claiming at once exactly one wins and the other learns who."""
    _require_agent(agent, "claim tickets")
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        raise TransitionError(f"Ticket #{ticket.pk} is {ticket.get_status_display().lower()}.")
    now = timezone.now()
    won = (
        Ticket.objects.filter(pk=ticket.pk, assignee__isnull=True)
        .exclude(status__in=(Status.SOLVED, Status.CLOSED))
        .update(
            assignee=agent,
            claimed_at=now,
            updated_at=now,
            status=_open_if_new(),
        )
    )
    previous_status = ticket.status
    ticket.refresh_from_db()
    if not won:
        if ticket.assignee_id == agent.pk:
            return ticket  # already mine: claiming twice is harmless
        raise ClaimConflict(ticket, ticket.assignee)
    _event(ticket, agent, EventKind.CLAIMED, "", agent.email)
    if ticket.status != previous_status:
        _status_event(ticket, agent, previous_status, ticket.status)
    return ticket


def _open_if_new() -> Case:
    return Case(When(status=Status.NEW, then=Value(Status.OPEN)), default=F("status"))


@transaction.atomic
def assign(ticket: Ticket, assignee: User | None, *, by: User) -> Ticket:
    """A manager hands a ticket to another agent, or (assignee=None) back to the queue."""
    if not by.is_manager:
        raise NotPermitted("Only a support manager may reassign tickets.")
    if ticket.is_final:
        raise TransitionError(f"Ticket #{ticket.pk} is closed.")
    if assignee is not None and not assignee.is_agent:
        raise TransitionError(f"{assignee.display_name} is not a support agent.")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    previous = ticket.assignee
    if previous == assignee:
        return ticket
    previous_status = ticket.status
    # "new" means unclaimed: assignee and status change together (a DB constraint).
    if assignee is None and ticket.status == Status.OPEN:
        ticket.status = Status.NEW
    elif assignee is not None and ticket.status == Status.NEW:
        ticket.status = Status.OPEN
    ticket.assignee = assignee
    ticket.claimed_at = timezone.now() if assignee else None
    _save(ticket, "assignee", "claimed_at", "status")
    _event(
        ticket,
        by,
        EventKind.ASSIGNED,
        previous.email if previous else "",
        assignee.email if assignee else "",
    )
    if ticket.status != previous_status:
        _status_event(ticket, by, previous_status, ticket.status)
    return ticket


def _ensure_claimed(ticket: Ticket, agent: User) -> Ticket:
    """Working an unclaimed ticket claims it first (as Zendesk assigns on reply)."""
    if ticket.assignee_id is None:
        return claim(ticket, agent)
    return ticket


# ---------------------------------------------------------------- triage


@transaction.atomic
def categorize(ticket: Ticket, category: str, *, by: User) -> Ticket:
    _require_agent(by, "categorize tickets")
    if category not in Category.values:
        raise TransitionError(f"Unknown category {category!r}.")
    if ticket.is_final:
        raise TransitionError(f"Ticket #{ticket.pk} is closed.")
    previous = ticket.category
    if previous != category:
        ticket.category = category
        _save(ticket, "category")
        _event(ticket, by, EventKind.CATEGORIZED, previous, category)
    return ticket


@transaction.atomic
def set_priority(ticket: Ticket, priority: str, *, by: User) -> Ticket:
    _require_agent(by, "change the priority")
    if priority not in Priority.values:
        raise TransitionError(f"Unknown priority {priority!r}.")
    if ticket.is_final:
        raise TransitionError(f"Ticket #{ticket.pk} is closed.")
    previous = ticket.priority
    if previous != priority:
        ticket.priority = priority
        _save(ticket, "priority")
        _event(ticket, by, EventKind.PRIORITY, previous, priority)
    return ticket


# ---------------------------------------------------------------- status


@transaction.atomic
def change_status(ticket: Ticket, to: str, *, by: User) -> Ticket:
    """An agent moves a ticket along; the allowed moves are ``AGENT_TRANSITIONS``."""
    _require_agent(by, "change a ticket's status")
    _check_move(ticket, to)
    if to == ticket.status:
        return ticket
    ticket = _ensure_claimed(ticket, by)
    _set_status(ticket, by, to)
    return ticket


def _check_move(ticket: Ticket, to: str) -> None:
    """Refuse an agent's move of ``ticket`` to ``to`` that ``AGENT_TRANSITIONS`` does not
    allow (none leads to New: only returning a ticket to the queue does). Staying is no
    move."""
    if to not in Status.values:
        raise TransitionError(f"Unknown status {to!r}.")
    if to != ticket.status and to not in AGENT_TRANSITIONS[ticket.status]:
        raise TransitionError(_refusal(ticket, to))


def _refusal(ticket: Ticket, to: str) -> str:
    current = Status(ticket.status).label
    target = Status(to).label
    if ticket.status == Status.CLOSED:
        return f"Ticket #{ticket.pk} is closed; a closed ticket cannot change. Open a follow-up."
    allowed = ", ".join(Status(s).label for s in AGENT_TRANSITIONS[ticket.status]) or "nothing"
    return f"A {current} ticket cannot become {target}; it can become: {allowed}."


@transaction.atomic
def mark_solved_by_requester(ticket: Ticket, requester: User) -> Ticket:
    """The requester says their problem is solved."""
    if ticket.status == Status.SOLVED:
        return ticket
    if ticket.status == Status.CLOSED:
        raise TransitionError(f"Ticket #{ticket.pk} is already closed.")
    _set_status(ticket, requester, Status.SOLVED, by_requester=True)
    return ticket


# ---------------------------------------------------------------- conversation


@transaction.atomic
def agent_reply(
    ticket: Ticket,
    agent: User,
    body: str,
    *,
    internal: bool = False,
    status: str | None = None,
    uploads: Sequence[Upload] = (),
) -> Message:
    """A public reply (stamps the first response) or an internal note, optionally with a
    status change (reply and set pending, the usual "asked for details")."""
    _require_agent(agent, "reply as support")
    body = body.strip()
    if not body:
        raise TransitionError("The message is empty.")
    if ticket.is_final:
        raise TransitionError(f"Ticket #{ticket.pk} is closed; open a follow-up instead.")
    if status == Status.NEW:  # even on a new ticket: the reply claims it
        raise TransitionError("Use reassignment to return a ticket to the queue.")
    if status:
        _check_move(ticket, status)
    validate_uploads(uploads)
    if not internal or status:  # a status set with a note too: as change_status does
        ticket = _ensure_claimed(ticket, agent)
    message = _add_message(
        ticket, agent, body, internal=internal, channel=Channel.AGENT, uploads=uploads
    )
    _event(
        ticket,
        agent,
        EventKind.NOTED if internal else EventKind.REPLIED,
        "",
        "",
        message=message.pk,
    )
    if not internal and ticket.first_response_at is None:
        ticket.first_response_at = message.created_at
        _save(ticket, "first_response_at")
    if status:
        _set_status(ticket, agent, status)
    else:
        _save(ticket)
    search.index_message(ticket, body)
    if not internal:
        signals.public_reply_added.send(Ticket, ticket=ticket, message=message)
    return message


def requester_reply(
    ticket: Ticket,
    author: User,
    body: str,
    *,
    channel: str = Channel.PORTAL,
    uploads: Sequence[Upload] = (),
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    event_data: dict | None = None,
    acknowledge: bool = True,
) -> Message:
    """A reply from the requester's side. Reopens a pending or solved ticket. A closed
    ticket is final: the reply starts a new ticket linked to it (returned message's
    ``ticket`` tells which), acknowledged unless ``acknowledge`` is False (as for
    ``create_ticket``: loop protection)."""
    body = body.strip()
    if not body:
        raise TransitionError("The message is empty.")
    validate_uploads(uploads)
    mail = {"message_id": message_id, "body_html": body_html, "quoted": quoted}
    if ticket.is_final:
        follow_up = create_ticket(
            requester=ticket.requester,
            subject=f"Re: {ticket.subject}"[:250],
            channel=channel,
            body=body,
            uploads=uploads,
            actor=author,
            cc=ticket.cc,
            follow_up_of=ticket,
            event_data=event_data,
            acknowledge=acknowledge,
            **mail,
        )
        return follow_up.opening_message
    with _writes():
        message = _add_message(
            ticket, author, body, internal=False, channel=channel, uploads=uploads, **mail
        )
        _event(ticket, author, EventKind.REPLIED, "", "", message=message.pk, **(event_data or {}))
        if ticket.status in (Status.PENDING, Status.SOLVED):
            # Back to whoever held it, or to the unclaimed queue if nobody did.
            reopened = Status.OPEN if ticket.assignee_id else Status.NEW
            _set_status(ticket, author, reopened, reason="requester replied")
        else:
            _save(ticket)
        search.index_message(ticket, body)
    return message


@transaction.atomic
def copy_person(ticket: Ticket, email: str, *, by: User | None, reason: str) -> Ticket:
    """Add someone to the people copied on the conversation (they receive replies and may
    answer); recorded on the timeline with the reason."""
    email = email.strip().lower()
    if not email or email in ticket.cc or email == ticket.requester.email.lower():
        return ticket
    ticket.cc = [*ticket.cc, email]
    _save(ticket, "cc")
    _event(ticket, by, EventKind.COPIED, "", email, reason=reason)
    return ticket


def record_automatic_mail(
    ticket: Ticket,
    *,
    kind: str,
    body: str,
    author: User | None = None,
    message_id: str = "",
    uploads: Sequence[Upload] = (),
) -> Message:
    """Keep an out-of-office reply, a bounce or an unverified mail on the ticket, visible
    to agents only. It never reopens the ticket nor counts as a reply (no loop, no false
    "customer replied")."""
    if kind not in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE, MessageKind.UNVERIFIED):
        raise TransitionError(f"{kind!r} is not an automatic mail kind.")
    with _writes():
        message = _add_message(
            ticket,
            author,
            body.strip() or "(empty)",
            internal=True,
            channel=Channel.EMAIL,
            uploads=uploads,
            message_id=message_id,
            kind=kind,
        )
        _event(ticket, author, EventKind.RECORDED, "", kind, message=message.pk)
    return message
