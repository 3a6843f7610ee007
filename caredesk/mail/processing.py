"""``process_message()``: what every stored message goes through, whichever way it came.

The worker calls ``process_pending()``. One worker at a time applies messages, in
arrival order, so a reply is never processed before the message it answers. Messages
go in batches: parsed first (no lock held), then applied in one transaction, so each
message's ticket change and its ledger outcome commit together or not at all. The whole
batch is tried first under one savepoint; if any message fails, that is undone and the
batch applied again with a savepoint per message, so the exception rolls back that
message alone, which is then quarantined with its error (the raw bytes stay), to be
retried with ``caredesk mail retry``. A batch is marked in flight before it is applied
(committed): if the worker dies, the next one finds those messages still queued and in
flight, and takes them one at a time, so a message that kills the worker cannot take its
neighbours with it and is quarantined after ``MAX_INTERRUPTIONS``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import traceback
from contextlib import suppress
from datetime import datetime, timedelta
from itertools import takewhile

from django.conf import settings
from django.core.files.storage import Storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.db.models import F, Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from caredesk.accounts.models import User
from caredesk.core import writes
from caredesk.core.models import Lease
from caredesk.core.writes import one_writer
from caredesk.lib.rows import Query, insert, update
from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel, MessageKind
from caredesk.tickets.models import Message, Ticket

from . import addresses, authentication, loops, outbound, quoting, spool, threading
from .choices import Outcome, Reason, State
from .models import InboundMessage, ThreadIndex
from .parse_ahead import ParseAhead
from .parsing import ParsedMail, parse, split_header_block

log = logging.getLogger(__name__)

LEASE_NAME = "mail.process"
LEASE_TTL = timedelta(minutes=2)
BATCH_SIZE = 50
# What a batch may hold in memory at once (raw bytes; parsed, about as much again), and
# as much again for the next batch parsed ahead: fifty 25 MB messages would be 2.5 GB.
BATCH_BYTES = 32 * 1024 * 1024
MAX_INTERRUPTIONS = 3
ACKNOWLEDGEMENTS = 200  # written at a time once no mail waits
ACKNOWLEDGEMENTS_WHILE_BUSY = 20  # written after each pass that left mail waiting
LEDGER_FIELDS = [
    "message_id",
    "subject",
    "sender",
    "state",
    "outcome",
    "reason",
    "ticket",
    "ticket_message",
    "error",
    "processed_at",
    "leased_until",
]
# Kinds of automatic mail that are recorded, never turned into tickets nor reopening one.
RECORD_ONLY = {"auto-replied", "auto-notified"}


class Quarantine(Exception):
    """The message cannot be processed as mail; it is kept with this reason."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def has_pending() -> bool:
    """Is there mail to process, or an acknowledgement to write?"""
    return _mail_waiting() or outbound.due_acknowledgements().exists()


def _mail_waiting() -> bool:
    return spool.count() > 0 or InboundMessage.objects.filter(state=State.QUEUED).exists()


def process_pending(limit: int = 500, ahead: ParseAhead | None = None) -> int:
    """Process queued messages in arrival order; returns how many were handled. Then
    the acknowledgements of new tickets are written: all that are due once no mail
    waits, a few otherwise. ``ahead``: a helper process that parses each next batch
    while one is applied."""
    holder = _holder()
    handled = 0
    drained = False
    try:
        # The lease is taken, then renewed, before each batch: a worker that lost it (a
        # batch that outlived LEASE_TTL) stops, and leaves the rest to the new holder.
        while handled < limit and Lease.acquire(LEASE_NAME, holder, LEASE_TTL):
            queued = InboundMessage.objects.filter(state=State.QUEUED).order_by("id")
            size = min(BATCH_SIZE, limit - handled)
            batch = _first(queued, size)
            # What the intake spooled comes in when the queue runs short (a move syncs the
            # ledger to disk), under the lease: the ledger keeps the order of arrival.
            if len(batch) < size and spool.move():
                batch = _first(queued, size)
            if not batch:
                drained = True
                break
            now = timezone.now()
            if batch[0].leased_until is not None and batch[0].leased_until > now:
                break  # a worker that lost the lease is still applying it: let it finish
            if batch[0].leased_until is not None:
                batch = batch[:1]  # its worker stopped while applying it: alone
            else:
                batch = list(takewhile(lambda m: m.leased_until is None, batch))
            handled += _process_batch(batch, ahead)
        # Mail first, then the answers to it: all of them while no mail waits, and a few
        # even when mail does, so that none waits for a quiet moment forever.
        while Lease.acquire(LEASE_NAME, holder, LEASE_TTL):
            chunk = ACKNOWLEDGEMENTS if drained else ACKNOWLEDGEMENTS_WHILE_BUSY
            if outbound.compose_acknowledgements(chunk) < chunk or not drained:
                break
            drained = not _mail_waiting()
    finally:
        Lease.release(LEASE_NAME, holder)
    return handled


def _within_budget(queued: QuerySet, count: int) -> list[int]:
    """The ids of the first ``count`` rows of ``queued``, fewer if their raw bytes would
    pass ``BATCH_BYTES``."""
    return spool.first_within(queued.values_list("pk", "size")[:count], BATCH_BYTES)


def _first(queued: QuerySet, count: int) -> list[InboundMessage]:
    """The first ``count`` queued messages, within the memory budget."""
    ids = _within_budget(queued, count)
    return list(queued.filter(pk__in=ids)) if ids else []


def process_message(inbound: InboundMessage) -> str:
    """Turn one stored message into its outcome; never raises."""
    _process_batch([inbound])
    return inbound.outcome


def _process_batch(batch: list[InboundMessage], ahead: ParseAhead | None = None) -> int:
    """Mark, parse and apply ``batch``; returns how many of its messages this worker
    took (a message another worker took in the meantime is left to it)."""
    mark = _mark(batch)
    mine = [inbound for inbound in batch if inbound.leased_until == mark]
    if not mine:
        return 0
    # Before the write lock is taken; then the helper parses the next batch meanwhile.
    parsed = [_parse(inbound, ahead) for inbound in mine]
    if ahead is not None:
        following = InboundMessage.objects.filter(state=State.QUEUED, id__gt=mine[-1].pk)
        ids = _within_budget(following.order_by("id"), BATCH_SIZE)
        ahead.submit(list(following.filter(pk__in=ids).order_by("id").values_list("id", "raw")))
    _apply_marked(mine, mark, parsed)
    return len(mine)


def _apply_marked(
    mine: list[InboundMessage], mark: datetime, parsed: list[ParsedMail | Exception]
) -> None:
    with writes.recording_stored_files() as files:  # deleted with what is undone
        try:
            with one_writer(), transaction.atomic(), writes.memo_scope():
                if not _all_at_once(mine, parsed, mark, files):
                    for inbound, mail in zip(mine, parsed, strict=True):
                        _process_one(inbound, mail, mark, files)
        except Exception:
            writes.delete_stored_files(files)
            # Not a worker's death (that leaves the mark): the batch rolled back as a
            # whole, so none of it counts as interrupted; it is taken again next pass.
            with suppress(Exception):
                InboundMessage.objects.filter(
                    pk__in=[m.pk for m in mine], state=State.QUEUED, leased_until=mark
                ).update(leased_until=None)
            raise


def _mark(batch: list[InboundMessage]) -> datetime:
    """Mark the batch in flight, committed before any work: a worker that dies from here
    on leaves the mark. Only rows still queued and unmarked (or marked by a worker that
    stopped) are taken; each taken row's ``leased_until`` is set to the returned mark."""
    now = timezone.now()
    mark = now + LEASE_TTL
    interrupted = int(batch[0].leased_until is not None)  # then the batch is that one alone
    expected = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    InboundMessage.objects.filter(
        expected, pk__in=[m.pk for m in batch], state=State.QUEUED
    ).update(
        attempts=F("attempts") + 1,
        leased_until=mark,
        interruptions=F("interruptions") + interrupted,
    )
    taken = InboundMessage.objects.filter(pk__in=[m.pk for m in batch], leased_until=mark)
    fresh = {row["pk"]: row for row in taken.values("pk", "attempts", "interruptions")}
    for inbound in batch:
        if inbound.pk in fresh:
            inbound.leased_until = mark
            inbound.attempts = fresh[inbound.pk]["attempts"]
            inbound.interruptions = fresh[inbound.pk]["interruptions"]
    return mark


class _TakenOver(Exception):
    """Another worker took this message over: this one's lease ran out while it stalled."""


def _still_mine(inbound: InboundMessage, mark: datetime):
    """The message's ledger row, as long as no other worker has taken it over or finished
    it since this worker marked it (the condition of the outcome's UPDATE in _process_one,
    where finding no row undoes the message): a quarantine is written through this."""
    return InboundMessage.objects.filter(pk=inbound.pk, state=State.QUEUED, leased_until=mark)


def _parse(inbound: InboundMessage, ahead: ParseAhead | None = None) -> ParsedMail | Exception:
    if inbound.interruptions >= MAX_INTERRUPTIONS:
        return Quarantine(
            f"The worker stopped {inbound.interruptions} times while processing this "
            "message; it is kept here instead of being tried again by itself."
        )
    ready = ahead.take(inbound.pk) if ahead is not None else None
    if ready is not None:
        return ready
    try:
        return parse(bytes(inbound.raw))
    except Exception as exc:  # kept as the message's error: never lost
        return exc


def _all_at_once(
    mine: list[InboundMessage],
    parsed: list[ParsedMail | Exception],
    mark: datetime,
    files: list[tuple[Storage, str]],
) -> bool:
    """The usual case first: the whole batch under one savepoint, none per message (two
    statements fewer each). If any message fails, the savepoint undoes them all and this
    returns False: the caller applies them again one savepoint each, and the failing one
    alone is quarantined (or left to the worker that took it over)."""
    if any(isinstance(mail, Exception) for mail in parsed):
        return False  # one will be quarantined: no use trying them all first
    try:
        with transaction.atomic():
            for inbound, mail in zip(mine, parsed, strict=True):
                _record(inbound, mail, mark)
    except Exception as exc:
        log.info("mail: batch applied again message by message (%s)", exc)
        writes.delete_stored_files(files)
        return False
    return True


def _record(inbound: InboundMessage, parsed: ParsedMail, mark: datetime) -> None:
    """Apply one message and write its outcome to the ledger, while its row still
    carries this worker's mark; raises _TakenOver (to be undone) if it does not."""
    _apply(inbound, parsed)
    inbound.state = State.DONE
    inbound.processed_at = timezone.now()
    inbound.error = ""
    inbound.leased_until = None
    if not update(inbound, LEDGER_FIELDS, state=State.QUEUED, leased_until=mark):
        raise _TakenOver  # undo what this worker applied: the other one applies it


def _process_one(
    inbound: InboundMessage,
    parsed: ParsedMail | Exception,
    mark: datetime,
    files: list[tuple[Storage, str]],
) -> None:
    start = len(files)
    try:
        if isinstance(parsed, Exception):
            raise parsed
        with transaction.atomic():  # a savepoint: this message alone rolls back
            _record(inbound, parsed, mark)
    except _TakenOver:
        writes.delete_stored_files(files, start)
        log.warning("mail: message %s was taken over by another worker", inbound.pk)
    except Exception as exc:
        writes.delete_stored_files(files, start)
        detail = str(exc) if isinstance(exc, Quarantine) else _trace(exc)
        log.warning("mail: message %s quarantined: %s", inbound.pk, exc)
        _quarantine(inbound, detail, mark)


def _quarantine(inbound: InboundMessage, detail: str, mark: datetime) -> None:
    inbound.state, inbound.outcome = State.QUARANTINED, Outcome.QUARANTINED
    inbound.error, inbound.processed_at = detail[:10000], timezone.now()
    outcome = {
        "state": inbound.state,
        "outcome": inbound.outcome,
        "error": inbound.error,
        "processed_at": inbound.processed_at,
        "leased_until": None,
    }
    learnt = {
        "message_id": inbound.message_id,
        "subject": inbound.subject,
        "sender": inbound.sender,
    }
    row = _still_mine(inbound, mark)  # no row: taken over, the other worker records it
    try:
        with transaction.atomic():  # what the parse learnt stays, for the ledger…
            row.update(**outcome, **learnt)
    except DatabaseError:  # … unless it is what the database refuses
        row.update(**outcome)


def _trace(exc: Exception) -> str:
    return "".join(traceback.format_exception(exc, limit=8))


AUTHENTICATION_FAILED = "Sender authentication failed:"


def retry(queryset, *, release: bool = False) -> int:
    """Put quarantined messages back in the queue (``caredesk mail retry``). ``release``:
    a person looked at them and vouches for their senders, so a failed sender
    authentication no longer holds them (it never lets mail speak as an agent)."""
    changes: dict = {"released_at": timezone.now()} if release else {}
    return queryset.filter(state=State.QUARANTINED).update(
        state=State.QUEUED, outcome="", error="", processed_at=None, interruptions=0, **changes
    )


# ------------------------------------------------------------------ the rules


def _apply(inbound: InboundMessage, parsed: ParsedMail) -> None:
    sender = parsed.from_address or addresses.normalize(inbound.envelope_from)
    inbound.message_id = parsed.message_id[:998]
    inbound.subject = parsed.subject[:998]
    inbound.sender = sender[:998]
    if _seen_before(inbound, parsed):
        return
    if parsed.bounce is not None:  # before the sender check: "<MAILER-DAEMON>" has no domain
        _bounce(inbound, parsed)
        return
    if not sender or "@" not in sender:
        raise Quarantine("No sender address: neither From nor the envelope names one.")
    if addresses.is_ours(sender):
        _outcome(inbound, Outcome.OWN_MAIL)
        return

    authenticated = authentication.verdict(
        parsed.authentication_results, sender, settings.MAIL_AUTHSERV_ID
    )
    if authenticated == authentication.FAIL and inbound.released_at is None:
        raise Quarantine(
            f"{AUTHENTICATION_FAILED} the domain of {sender} says this mail is not from it "
            f"(DMARC, as {settings.MAIL_AUTHSERV_ID} found). If it is genuine, release it: "
            "it is then processed as it is."
        )

    recipients = [*inbound.envelope_to, *parsed.to, *parsed.cc]
    match = threading.find_thread(
        recipients=recipients,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        sender=sender,
    )
    if parsed.auto_submitted in RECORD_ONLY or loops.is_out_of_office(parsed):
        _auto_reply(inbound, parsed, match)
        return

    author = _person(sender, parsed.from_name)
    text, quoted = _body(parsed)
    uploads, notices = _uploads(parsed)
    if notices:
        text = f"{text}\n\n" + "\n".join(notices)
    mail = {
        "channel": Channel.EMAIL,
        "uploads": uploads,
        "message_id": parsed.message_id,
        "body_html": parsed.html,
        "quoted": quoted,
    }
    if match and author.is_agent and authenticated != authentication.PASS:
        # Whatever else the address is on this ticket (copied, even its requester): mail
        # speaks as support only when proven, and no release vouches for that.
        _unverified(inbound, parsed, match, text, uploads)
        return
    role = None
    if match:
        proven = match.reason != Reason.SUBJECT_TAG  # it had a mail of the thread
        role = threading.participation(match.ticket, sender, proven=proven)
    if match and role:
        if role == "colleague":
            lifecycle.copy_person(
                match.ticket, sender, by=author, reason="replied as the requester's colleague"
            )
        why = {"reason": f"email threaded by {Reason(match.reason).label}", "ledger": inbound.pk}
        message = lifecycle.requester_reply(
            match.ticket,
            author,
            text,
            event_data=why,
            acknowledge=loops.may_auto_reply(parsed, addresses.support_addresses()),
            **mail,
        )
        linked = message.ticket_id != match.ticket.pk  # the ticket was closed
        _outcome(
            inbound,
            Outcome.LINKED_TICKET if linked else Outcome.FOLLOW_UP,
            message.ticket,
            message,
            match.reason,
        )
    else:
        own = addresses.support_addresses()
        ticket = lifecycle.create_ticket(
            requester=author,
            subject=parsed.subject or "(no subject)",
            body=text,
            cc=[a for a in [*parsed.to, *parsed.cc] if a != sender and not addresses.is_ours(a)],
            follow_up_of=match.ticket if match else None,
            acknowledge=loops.may_auto_reply(parsed, own),
            event_data={"reason": _new_ticket_reason(match, sender), "ledger": inbound.pk},
            **mail,
        )
        outcome = Outcome.LINKED_TICKET if match else Outcome.NEW_TICKET
        _outcome(inbound, outcome, ticket, ticket.opening_message, match.reason if match else "")
    _index(parsed.message_id, inbound.ticket)


def _new_ticket_reason(match: threading.Match | None, sender: str) -> str:
    if match is None:
        return "new email: no reply address, known Message-ID or ticket tag matched"
    return (
        f"email answers #{match.ticket.pk} ({Reason(match.reason).label}) but {sender} "
        "is not a participant there, so it opened this linked ticket"
    )


def _outcome(
    inbound: InboundMessage,
    outcome: str,
    ticket: Ticket | None = None,
    message: Message | None = None,
    reason: str = Reason.NONE,
) -> None:
    inbound.outcome = outcome
    inbound.ticket = ticket
    inbound.ticket_message = message
    inbound.reason = reason


def _index(message_id: str, ticket: Ticket | None) -> None:
    if message_id and ticket is not None:
        insert(ThreadIndex(message_id=message_id[:998], ticket=ticket), ignore_conflicts=True)


SAME_ID_COMPARED = 20  # earlier bodies under one Message-ID compared, the newest
NOTHING_EARLIER = object()
Copy = tuple[int | None, int | None]
_APPLIED = (Outcome.DUPLICATE, Outcome.QUARANTINED, "")  # excluded: not an applied copy


def _applied_under(message_id: str, pk: int):
    return (
        InboundMessage.objects.filter(message_id=message_id)
        .exclude(pk=pk)
        .exclude(outcome__in=_APPLIED)
    )


def _newest_under(*columns: str) -> Query:
    """``columns`` of the newest applied messages under a Message-ID, compiled once
    (lib/rows explains why)."""
    return Query(
        lambda message_id, pk: (
            _applied_under(message_id, pk).order_by("-id").values_list(*columns)
        )[:SAME_ID_COMPARED],
        str,
        int,
    )


_NEWEST_UNDER_ID = _newest_under("sha256", "ticket_id", "ticket_message_id")
_NEWEST_BODIES_UNDER_ID = _newest_under("raw", "ticket_id", "ticket_message_id")
_SAME_BYTES_UNDER_ID = Query(
    lambda message_id, pk, sha256: (
        _applied_under(message_id, pk)
        .filter(sha256=sha256)
        .order_by("id")
        .values_list("ticket_id", "ticket_message_id")[:1]
    ),
    str,
    int,
    str,
)


def _earlier_copy(inbound: InboundMessage) -> Copy | object | None:
    """(ticket, message) of the copy of ``inbound`` already applied under its Message-ID:
    the same bytes, or the same body under other headers (one more ``Received:`` line on
    another route, line ends an IMAP server rewrote). None if the ledger has other
    messages under that Message-ID and none is this one (scanners and broken mailers send
    one Message-ID for every mail: different messages, none of which may be lost);
    NOTHING_EARLIER if it has none at all (one indexed read, for most messages)."""
    newest = _NEWEST_UNDER_ID(inbound.message_id, inbound.pk)
    if not newest:
        return NOTHING_EARLIER
    for sha256, ticket_id, message_id in newest:
        if sha256 == inbound.sha256:
            return ticket_id, message_id
    if len(newest) == SAME_ID_COMPARED:  # more of them: the same bytes further back?
        same = _SAME_BYTES_UNDER_ID.first(inbound.message_id, inbound.pk, inbound.sha256)
        if same is not None:
            return tuple(same)
    body = _body_digest(bytes(inbound.raw))
    for raw, ticket_id, message_id in _NEWEST_BODIES_UNDER_ID(inbound.message_id, inbound.pk):
        if _body_digest(bytes(raw)) == body:
            return ticket_id, message_id
    return None


def _body_digest(raw: bytes) -> str:
    """The message after its header block, line ends made alike."""
    body = split_header_block(raw)[1]
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def _duplicate(inbound: InboundMessage, copy: Copy) -> bool:
    """Record ``inbound`` as a second copy of the message applied as ``copy``."""
    _outcome(inbound, Outcome.DUPLICATE)
    inbound.ticket_id, inbound.ticket_message_id = copy
    return True


def _seen_before(inbound: InboundMessage, parsed: ParsedMail) -> bool:
    """Our own mail coming back, or the same message delivered twice (IMAP and SMTP, or a
    retry): recorded in the ledger, applied once."""
    if parsed.message_id:
        # Unknown to the thread index: new (mail that stays out of the index is checked
        # against the ledger on its own paths: _recorded_before).
        known = threading.indexed(parsed.message_id)
        if known is None:
            return False
        if known[0]:
            _outcome(inbound, Outcome.OWN_MAIL)
            inbound.ticket_id = known[1]
            return True
        copy = _earlier_copy(inbound)
        if copy is NOTHING_EARLIER:  # none in the ledger: indexed another way
            copy = (known[1], None)
        if copy is None:
            return False  # another message under a reused Message-ID
        return _duplicate(inbound, copy)
    earlier = (
        InboundMessage.objects.filter(state=State.DONE, sha256=inbound.sha256)
        .exclude(pk=inbound.pk)
        .exclude(outcome=Outcome.DUPLICATE)
        .order_by("id")
        .values_list("ticket_id", "ticket_message_id")
        .first()
    )
    if earlier is None:
        return False
    return _duplicate(inbound, earlier)


def _recorded_before(inbound: InboundMessage) -> bool:
    """For mail kept out of the thread index (it proves nothing of the thread): a copy of
    it already recorded makes this one a duplicate, found in the ledger."""
    copy = _earlier_copy(inbound) if inbound.message_id else NOTHING_EARLIER
    if copy is NOTHING_EARLIER or copy is None:
        return False
    return _duplicate(inbound, copy)


def _unverified(inbound: InboundMessage, parsed: ParsedMail, match, text: str, uploads) -> None:
    """Mail from an agent's address that its domain did not prove theirs: anyone can
    write an agent's address into From. Kept on the ticket for agents only, flagged, and
    never sent to the requester nor counted as support's answer."""
    if _recorded_before(inbound):
        return
    sender = inbound.sender
    verified_by = settings.MAIL_AUTHSERV_ID or "no trusted mail server (MAIL_AUTHSERV_ID)"
    message = lifecycle.record_automatic_mail(
        match.ticket,
        kind=MessageKind.UNVERIFIED,
        body=(
            f"Mail from {sender}, an agent's address, that its domain did not prove to be "
            f"theirs (checked by: {verified_by}). Not sent to the requester.\n\n"
            f"{parsed.subject}\n\n{text}"
        ),
        message_id=parsed.message_id,
        uploads=uploads,
    )
    # Not in the thread index: an answer to it proves nothing of the thread.
    _outcome(inbound, Outcome.UNVERIFIED, match.ticket, message, match.reason)


def _auto_reply(inbound: InboundMessage, parsed: ParsedMail, match) -> None:
    """Out-of-office and other automatic answers: recorded, never a ticket, no reopen."""
    if match is None:
        _outcome(inbound, Outcome.AUTO_REPLY)
        return
    by_tag = match.reason == Reason.SUBJECT_TAG  # a tag is anyone's to write: no proof
    if by_tag and _recorded_before(inbound):
        return
    text, _ = _body(parsed)
    message = lifecycle.record_automatic_mail(
        match.ticket,
        kind=MessageKind.AUTO_REPLY,
        body=f"{parsed.subject}\n\n{text}",
        author=User.objects.find(parsed.from_address),
        message_id=parsed.message_id,
    )
    _outcome(inbound, Outcome.AUTO_REPLY, match.ticket, message, match.reason)
    if not by_tag:
        _index(parsed.message_id, match.ticket)


def _bounce(inbound: InboundMessage, parsed: ParsedMail) -> None:
    """A delivery failure of mail we sent: flag it on that ticket, never a new ticket."""
    bounce = parsed.bounce
    match = threading.by_headers(bounce.original_message_ids, parsed.references)
    if match is None:
        _outcome(inbound, Outcome.BOUNCE)
        return
    ticket = match.ticket
    summary = (
        f"Delivery to {', '.join(bounce.recipients) or 'the recipient'} failed"
        f" ({bounce.status or 'no status'}"
        f"{', permanent' if bounce.permanent else ', temporary'}): {bounce.diagnostic}"
    )
    message = lifecycle.record_automatic_mail(
        ticket, kind=MessageKind.BOUNCE, body=summary, message_id=parsed.message_id
    )
    for email in OutboundEmail.objects.filter(ref=f"ticket:{ticket.pk}"):
        sent_id = email.headers.get("Message-ID", "").strip("<>")
        if sent_id in bounce.original_message_ids:
            email.status = DeliveryStatus.FAILED
            email.last_error = summary[:2000]
            email.save(update_fields=["status", "last_error"])
    _outcome(inbound, Outcome.BOUNCE, ticket, message, match.reason)


def _person(address: str, name: str) -> User:
    longest = User._meta.get_field("email").max_length  # 254, as in RFC 5321
    if len(address) > longest:
        # Refused the same way on every database (SQLite would store it, PostgreSQL
        # would fail on it), and the reason says why.
        raise Quarantine(
            f"The sender address is {len(address)} characters long; a mail address "
            f"has at most {longest}, so it cannot be the requester's."
        )
    return User.objects.requester(address, name)


def _body(parsed: ParsedMail) -> tuple[str, str]:
    text = parsed.text.strip()
    if not text:
        return ("(no text)", "")
    new, rest = quoting.split_quoted(text)
    return (new.strip() or text, rest)


def _uploads(parsed: ParsedMail) -> tuple[list[SimpleUploadedFile], list[str]]:
    """Attachments within the limits; what is over them stays in the raw message."""
    limit = settings.ATTACHMENT_MAX_BYTES
    uploads: list[SimpleUploadedFile] = []
    notices: list[str] = []
    for part in parsed.attachments:
        if len(part.content) > limit:
            notices.append(
                f"[Attachment “{part.filename}” ({filesizeformat(len(part.content))}) is over "
                f"the {filesizeformat(limit)} limit; it is kept in the original email.]"
            )
        elif len(uploads) >= settings.ATTACHMENTS_PER_MESSAGE:
            notices.append(
                f"[Attachment “{part.filename}” is beyond the first "
                f"{settings.ATTACHMENTS_PER_MESSAGE}; it is kept in the original email.]"
            )
        else:
            uploads.append(SimpleUploadedFile(part.filename, part.content, part.content_type))
    return uploads, notices
