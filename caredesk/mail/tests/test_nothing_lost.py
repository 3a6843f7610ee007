"""Nothing is lost: whatever arrives, every stored message ends with a recorded outcome.

Hypothesis builds batches of malformed and odd messages (broken encoded words, bad
charsets, missing or duplicate From, truncated multipart boundaries, random bytes in
bodies, 8-bit headers, CR/LF mixes, References to unknown ids, replies to an earlier
message of the batch, auto-submitted mail, DSN-like reports), stores each one with
``intake.receive()`` as the SMTP server does and runs the worker's ``process_pending()``.

Then every stored row must be done or quarantined, never left queued; its outcome is one
of the recorded ones; a ticket outcome points at a ticket message with a body; a
quarantine says why (a reason, not the traceback of a crash); the raw bytes are exactly
what was received; and there is one row per message received, duplicates included.

Each example runs in its own transaction (a savepoint inside the test's), rolled back at
its end, so examples never see each other's tickets, users or Message-IDs.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from caredesk.mail import intake
from caredesk.mail.choices import Outcome, State, Transport
from caredesk.mail.models import InboundMessage
from caredesk.mail.processing import process_pending

from .factories import SUPPORT

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Outcomes that put the message on a ticket, as its own (non-empty) ticket message.
ON_A_TICKET = {Outcome.NEW_TICKET, Outcome.LINKED_TICKET, Outcome.FOLLOW_UP}

SENDERS = [
    b"Alice <alice@acme.test>",
    b"alice@acme.test",
    b"bob@bethel.test (Bob)",
    b"=?utf-8?B?Q2Fyb2wgw4FsdmFyZXo=?= <carol@acme.test>",  # valid encoded word
    b"=?utf-8?B?not base64!?= <dana@acme.test>",  # broken encoded word
    b"=?utf-8?q?Al=E9?= <alice@acme.test>",  # Latin-1 bytes labelled UTF-8
    b"=?x-unknown?Q?Bob?= <bob@bethel.test>",  # unknown charset
    b"=?utf-8?Q?unterminated <bob@bethel.test>",
    b"J\xf6rg M\xfcller <jorg@acme.test>",  # raw 8-bit Latin-1 header
    b"\xe5\xbc\xa0\xe4\xbc\x9f <zhang@acme.test>",  # raw 8-bit UTF-8 header
    b'"unterminated <eve@outside.test>',
    b"<>",
    b"MAILER-DAEMON",
    b"Mail Delivery System <MAILER-DAEMON@mx.acme.test>",
    b"support@demo.caredesk.test",  # our own address: a loop
    b"undisclosed-recipients:;",
    b"noreply@acme.test",
    b"a" * 300 + b"@acme.test",  # longer than any real address
    b"",
]
TOS = [SUPPORT.encode(), b"Support <" + SUPPORT.encode() + b">", b"", b"undisclosed:;", b"\xff@"]
SUBJECTS = [
    b"Cannot add a volunteer",
    b"Re: Cannot add a volunteer",
    b"=?utf-8?B?w4ljaGVj?= de connexion",
    b"=?utf-8?B?broken",
    b"=?koi8-r?B?8NLJ18XU?=",
    b"=?bogus-charset?Q?x?=",
    b"Probl\xe8me d'acc\xe8s",  # raw 8-bit
    b"[#1] [#2] [#3] tag soup",
    b"Re: [#1] Cannot add",
    b"x" * 1200,  # longer than the ledger column
    b"   ",
    b"",
]
AUTOMATIC = [
    (b"Auto-Submitted", b"auto-replied"),
    (b"Auto-Submitted", b"auto-generated"),
    (b"Auto-Submitted", b"auto-notified"),
    (b"Auto-Submitted", b"no"),
    (b"Auto-Submitted", b"\xff\xfe"),
    (b"X-Autoreply", b"yes"),
    (b"Precedence", b"bulk"),
    (b"List-Id", b"<volunteers.lists.acme.test>"),
    (b"X-Auto-Response-Suppress", b"All"),
]
CHARSETS = [
    b"utf-8",
    b"us-ascii",
    b"iso-8859-1",
    b"koi8-r",
    b"shift_jis",
    b"utf-16",
    b"utf-7",
    b"x-unknown",
    b"unknown-8bit",
    b"rot13",
    b"zlib",
    b'"',
    b"",
]
ENCODINGS = [b"7bit", b"8bit", b"base64", b"quoted-printable", b"x-uuencode", b"bogus", b""]
TEXT = st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
BYTES = st.binary(max_size=300)


def _id_header(ids: list[bytes]) -> bytes:
    return b" ".join(b"<" + i + b">" for i in ids)


@st.composite
def text_part(draw) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A leaf part: its content headers and its body (text, random bytes or bad base64)."""
    headers = [
        (
            b"Content-Type",
            draw(st.sampled_from([b"text/plain", b"text/html"]))
            + b"; charset="
            + draw(st.sampled_from(CHARSETS)),
        )
    ]
    if draw(st.booleans()):
        headers.append((b"Content-Transfer-Encoding", draw(st.sampled_from(ENCODINGS))))
    body = draw(
        st.one_of(
            TEXT,
            BYTES,
            st.sampled_from([b"SGVsbG8gd29ybGQ", b"=E9=\n=ZZ", b"<p>Hi<script>x</script>", b""]),
        )
    )
    return headers, body


@st.composite
def multipart(draw, boundary: bytes, depth: int = 0) -> tuple[list[tuple[bytes, bytes]], bytes]:
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"related"]))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        if depth < 1 and draw(st.integers(0, 4)) == 0:
            headers, body = draw(multipart(boundary + b"n", depth + 1))
        else:
            headers, body = draw(text_part())
        head = b"".join(name + b": " + value + b"\n" for name, value in headers)
        parts.append(b"--" + boundary + b"\n" + head + b"\n" + body + b"\n")
    body = b"".join(parts)
    ending = draw(st.sampled_from(["closed", "unclosed", "cut", "wrong"]))  # unclosed: as is
    if ending == "closed":
        body += b"--" + boundary + b"--\n"
    elif ending == "cut" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif ending == "wrong":
        body += b"--" + boundary[:-1] + b"--\n"
    declared = draw(st.sampled_from([boundary, boundary, b"", b'"' + boundary]))
    ctype = b"multipart/" + subtype + b'; boundary="' + declared + b'"'
    return [(b"Content-Type", ctype)], body


@st.composite
def delivery_report(draw, known: list[bytes]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A DSN-like multipart/report about one of the batch's messages or an unknown one."""
    original = draw(st.sampled_from([*known, b"never-sent@acme.test", b""]))
    status = draw(st.sampled_from([b"5.1.1", b"4.2.2", b"9.9.9", b"", b"\xff"]))
    body = (
        b"--R\nContent-Type: text/plain\n\nThe mail could not be delivered.\n"
        b"--R\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.acme.test\n\n"
        b"Final-Recipient: rfc822; alice@acme.test\nAction: failed\nStatus: " + status + b"\n"
        b"Diagnostic-Code: smtp; 550 no such user\n"
        b"--R\nContent-Type: "
        + draw(st.sampled_from([b"text/rfc822-headers", b"message/rfc822"]))
        + b"\n\nMessage-ID: <"
        + original
        + b">\nSubject: Re: something\n"
        b"--R--\n"
    )
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    ctype = b"multipart/report; report-type=delivery-status; boundary=" + draw(
        st.sampled_from([b'"R"', b"R", b'"S"'])
    )
    return [(b"MIME-Version", b"1.0"), (b"Content-Type", ctype)], body


def _line_endings(raw: bytes, style: str, flips: list[bool]) -> bytes:
    lines = raw.split(b"\n")
    if style == "lf":
        return raw
    if style == "crlf":
        return b"\r\n".join(lines)
    if style == "cr":
        return b"\r".join(lines)
    # mixed: each line ends with LF or CRLF
    out = []
    for i, line in enumerate(lines[:-1]):
        out.append(line + (b"\r\n" if flips[i % len(flips)] else b"\n"))
    return b"".join(out) + lines[-1]


@st.composite
def message(draw, index: int, earlier: list[dict]) -> dict:
    """One raw message (and what a later reply or bounce of the batch may refer to)."""
    known_ids = [m["id"] for m in earlier if m["id"]]
    headers: list[tuple[bytes, bytes]] = []
    answers = draw(st.sampled_from(earlier)) if earlier and draw(st.booleans()) else None

    if answers is not None and answers["from"]:
        senders = answers["from"]  # a participant answering
    else:
        senders = draw(st.lists(st.sampled_from(SENDERS), max_size=2))  # none, one or two
    headers += [(b"From", sender) for sender in senders]
    if draw(st.integers(0, 4)):
        headers.append((b"To", draw(st.sampled_from(TOS))))
    if draw(st.integers(0, 4)):
        headers.append((b"Subject", draw(st.sampled_from(SUBJECTS))))

    own_id = b""
    id_kind = draw(st.sampled_from(["fresh", "fresh", "fresh", "none", "again", "garbage"]))
    if id_kind == "fresh":
        own_id = b"gen-%d@acme.test" % index
        headers.append((b"Message-ID", b"<" + own_id + b">"))
    elif id_kind == "again" and known_ids:  # delivered twice, or a reused Message-ID
        headers.append((b"Message-ID", b"<" + draw(st.sampled_from(known_ids)) + b">"))
    elif id_kind == "garbage":
        garbage = st.sampled_from([b"<<>>", b"<", b"\xff", b"x" * 1100])
        headers.append((b"Message-ID", draw(garbage)))

    if answers is not None and answers["id"]:
        headers.append((b"In-Reply-To", b"<" + answers["id"] + b">"))
        headers.append((b"References", _id_header([b"unknown-1@elsewhere.test", answers["id"]])))
    elif draw(st.booleans()):
        unknown = draw(
            st.lists(st.sampled_from([b"unknown@x.test", b"a@b", b"", b"\xff"]), max_size=3)
        )
        headers.append((b"References", _id_header(unknown)))
    if draw(st.booleans()):
        headers.append(draw(st.sampled_from(AUTOMATIC)))
    if draw(st.booleans()):
        headers.append(
            (
                b"Date",
                draw(st.sampled_from([b"Thu, 26 Nov 2026 10:00:00 +0100", b"yesterday", b""])),
            )
        )
    for _ in range(draw(st.integers(0, 2))):  # random extra header noise
        name = draw(st.sampled_from([b"X-Junk", b"Content-Disposition", b"Reply-To", b"Cc"]))
        headers.append((name, draw(BYTES.map(lambda b: b.replace(b"\n", b" ")))))

    shape = draw(st.sampled_from(["text", "multipart", "report", "bytes", "headers only"]))
    if shape == "text":
        content_headers, body = draw(text_part())
        content_headers.insert(0, (b"MIME-Version", b"1.0"))
    elif shape == "multipart":
        content_headers, body = draw(multipart(b"b%d" % index))
        content_headers.insert(0, (b"MIME-Version", b"1.0"))
    elif shape == "report":
        content_headers, body = draw(delivery_report(known_ids))
    else:
        content_headers, body = [], draw(BYTES) if shape == "bytes" else b""

    head = b"".join(name + b": " + value + b"\n" for name, value in headers + content_headers)
    raw = head if shape == "headers only" else head + b"\n" + body
    raw = _line_endings(
        raw,
        draw(st.sampled_from(["lf", "crlf", "cr", "mixed"])),
        draw(st.lists(st.booleans(), min_size=1, max_size=8)),
    )
    if draw(st.integers(0, 9)) == 0 and raw:  # cut short anywhere
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return {"raw": raw, "id": own_id, "from": senders}


@st.composite
def batches(draw) -> list[bytes]:
    generated: list[dict] = []
    for index in range(draw(st.integers(1, 6))):
        if generated and draw(st.integers(0, 5)) == 0:  # the same bytes delivered again
            generated.append(draw(st.sampled_from(generated)))
        else:
            generated.append(draw(message(index, generated)))
    return [m["raw"] for m in generated]


@EXAMPLES
@given(raws=batches(), envelope_from=st.sampled_from(["", "bounce@acme.test"]))
def test_every_received_message_ends_recorded_and_unchanged(raws, envelope_from):
    with transaction.atomic():
        received = {
            intake.receive(
                raw, transport=Transport.SMTP, envelope_from=envelope_from, envelope_to=[SUPPORT]
            ): raw
            for raw in raws
        }
        assert process_pending() == len(raws)

        rows = list(InboundMessage.objects.select_related("ticket_message").order_by("id"))
        assert len(rows) == len(received) == len(raws)
        for row in rows:
            event(f"outcome: {row.outcome}")
            raw = received[row.queue_id]
            context = f"message #{row.pk} ({row.outcome or row.state}): {raw!r}"
            assert bytes(row.raw) == raw, context
            assert row.state in (State.DONE, State.QUARANTINED), context
            assert row.outcome in Outcome.values, context
            assert (row.state == State.QUARANTINED) == (row.outcome == Outcome.QUARANTINED), context
            if row.outcome in ON_A_TICKET:
                assert row.ticket_id is not None, context
                assert row.ticket_message is not None, context
                assert row.ticket_message.ticket_id == row.ticket_id, context
                assert row.ticket_message.body.strip(), context
            if row.outcome == Outcome.QUARANTINED:
                assert row.error.strip(), context
                # Held back for a stated reason (no usable sender, ...), never because
                # processing crashed on it: a crash is recorded as its traceback.
                assert not row.error.startswith("Traceback"), f"{context}\n{row.error}"

        transaction.set_rollback(True)  # the next example starts from an empty desk
