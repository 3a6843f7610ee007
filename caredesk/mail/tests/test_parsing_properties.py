"""parse() under random input: it never raises, returns the declared types, and reads back
what the standard library writes."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from caredesk.mail.parsing import Bounce, ParsedAttachment, ParsedMail, parse, sanitize_filename

SAMPLES = [p.read_bytes() for p in sorted((Path(__file__).parent / "samples").glob("*.eml"))]
FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHARSETS = [
    "utf-8",
    "utf-16",
    "utf-32",
    "utf-7",
    "iso-2022-jp",
    "hz",
    "gb2312",
    "koi8-r",
    "shift_jis",
    "unicode_escape",
    "raw_unicode_escape",
    "rot13",
    "base64",
    "zlib",
    "idna",
    "punycode",
    "undefined",
    "x-unknown",
    "unknown-8bit",
    "",
    '"',
    "utf-8*en",
    "us-ascii",
    "cp1252",
]


def check(parsed: ParsedMail) -> None:
    """The declared types, and strings a database accepts (no NUL, no lone surrogates)."""
    assert isinstance(parsed, ParsedMail)

    def text(value):
        assert isinstance(value, str)
        assert "\x00" not in value
        value.encode("utf-8")

    for name in ("message_id", "subject", "from_address", "from_name", "text", "html"):
        text(getattr(parsed, name))
    assert parsed.auto_submitted in (
        "",
        "auto-replied",
        "auto-generated",
        "auto-notified",
        "bulk",
        "list",
        "bounce",
    )
    for name in (
        "in_reply_to",
        "references",
        "to",
        "cc",
        "reply_to",
        "defects",
        "auto_response_suppress",
    ):
        values = getattr(parsed, name)
        assert isinstance(values, list)
        for value in values:
            text(value)
    assert parsed.date is None or (isinstance(parsed.date, datetime) and parsed.date.tzinfo)
    assert isinstance(parsed.attachments, list)
    for attachment in parsed.attachments:
        assert isinstance(attachment, ParsedAttachment)
        text(attachment.filename)
        assert attachment.filename and not re.search(r"[/\\]", attachment.filename)
        text(attachment.content_type)
        assert isinstance(attachment.content, bytes)
        assert isinstance(attachment.inline, bool)
        text(attachment.content_id)
    if parsed.bounce is not None:
        assert isinstance(parsed.bounce, Bounce)
        assert parsed.auto_submitted == "bounce"
        for value in [*parsed.bounce.original_message_ids, *parsed.bounce.recipients]:
            text(value)
        text(parsed.bounce.status)
        text(parsed.bounce.diagnostic)
        assert isinstance(parsed.bounce.permanent, bool)


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw):
    check(parse(raw))


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: ",
                b"To: ",
                b"Subject: ",
                b"Content-Type: ",
                b"multipart/mixed; boundary=",
                b"message/rfc822",
                b"text/html",
                b"charset=",
                b"Content-Transfer-Encoding: base64",
                b"quoted-printable",
                b"=?utf-8?B?",
                b"=?",
                b"?=",
                b"?Q?",
                b"<",
                b">",
                b"@",
                b'"',
                b";",
                b"\n",
                b"\r\n",
                b"\n\n",
                b"--",
                b"--x",
                b'"x"',
                b"\xff",
                b"\xc3",
                b"=",
                b"%",
                b"*0*=",
                b"filename",
                b"<script>",
                b"&amp;",
                b"\x00",
            ]
        ),
        max_size=80,
    )
)
def test_mime_shaped_noise_never_raises(tokens):
    check(parse(b"".join(tokens)))


@st.composite
def mutated_samples(draw):
    raw = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(
            st.sampled_from(
                [
                    "flip",
                    "truncate",
                    "insert",
                    "delete",
                    "boundary",
                    "charset",
                    "header",
                    "encoding",
                ]
            )
        )
        if not raw:
            break
        pos = draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 200))]
        elif op == "boundary":
            new = b'boundary="' + draw(st.binary(max_size=20)).replace(b'"', b"") + b'"'
            count = draw(st.integers(0, 3))
            raw = bytearray(
                re.sub(rb'boundary="?[^";\r\n]*"?', lambda _m, new=new: new, raw, count=count)
            )
        elif op == "charset":
            name = draw(st.sampled_from(CHARSETS) | st.text(max_size=12))
            new = b"charset=" + name.encode("utf-8", "surrogatepass")
            raw = bytearray(re.sub(rb"charset=\"?[\w.:-]*\"?", lambda _m, new=new: new, raw))
        elif op == "header":
            end = raw.find(b"\n") + 1
            raw[end:end] = draw(st.binary(max_size=60)) + b"\n"
        else:
            cte = draw(
                st.sampled_from(
                    [b"base64", b"quoted-printable", b"x-uuencode", b"bogus", b"8bit", b""]
                )
            )
            new = b"Content-Transfer-Encoding: " + cte
            raw = bytearray(
                re.sub(rb"(?i)content-transfer-encoding:[^\r\n]*", lambda _m, new=new: new, raw)
            )
    return bytes(raw)


@FAST
@given(mutated_samples())
def test_mutated_samples_never_raise(raw):
    check(parse(raw))


HEADER_NAMES = [
    b"From",
    b"To",
    b"Cc",
    b"Reply-To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"In-Reply-To",
    b"References",
    b"Content-Type",
    b"Content-Disposition",
    b"Content-Transfer-Encoding",
    b"Auto-Submitted",
    b"Precedence",
    b"Return-Path",
    b"X-Auto-Response-Suppress",
    b"X-Failed-Recipients",
]
HEADER_PIECES = st.sampled_from(
    [
        b"=?",
        b"?=",
        b"?B?",
        b"?q?",
        b"utf-8",
        b"*",
        b"'",
        b"<",
        b">",
        b"@",
        b",",
        b";",
        b'"',
        b"\\",
        b"(",
        b")",
        b"\n ",
        b"\xff",
        b"\x00",
        b"%E2",
        b"=C3",
        b"multipart/mixed",
        b"boundary=",
        b"filename*0*=",
    ]
)


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(HEADER_NAMES),
            st.lists(HEADER_PIECES | st.binary(max_size=8), max_size=12),
        ),
        max_size=8,
    ),
    st.sampled_from(SAMPLES),
)
def test_header_noise_never_raises(headers, sample):
    head = b"".join(name + b": " + b"".join(value) + b"\n" for name, value in headers)
    check(parse(head + sample))


# ---------------------------------------------------------------- round trip

HEADER_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=60
)
BODY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400)
FILENAMES = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" -_.()[]'+,&"),
    min_size=1,
    max_size=40,
)
TYPES = st.sampled_from(
    [
        ("application", "octet-stream"),
        ("application", "pdf"),
        ("image", "png"),
        ("application", "zip"),
        ("audio", "mpeg"),
    ]
)


def lines(text: str) -> list[str]:
    """Text modulo line endings, trailing whitespace and surrounding blank lines."""
    out = [line.rstrip() for line in text.replace("\x00", "").splitlines()]
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


@FAST
@given(
    subject=HEADER_TEXT,
    body=BODY_TEXT,
    data=st.binary(max_size=3000),
    filename=FILENAMES,
    ctype=TYPES,
)
def test_stdlib_messages_round_trip(subject, body, data, filename, ctype):
    assume(sanitize_filename(filename))
    msg = EmailMessage(policy=default_policy)
    try:
        msg["Subject"] = subject
    except ValueError:  # a subject the standard library itself refuses to write
        assume(False)
    msg["From"] = "Ana Gonçalves <ana@example.pt>"
    msg["To"] = "support@helpdesk.example.com"
    msg["Message-ID"] = "<round.trip@example.pt>"
    msg.set_content(body)
    msg.add_attachment(data, maintype=ctype[0], subtype=ctype[1], filename=filename)
    parsed = parse(msg.as_bytes())
    check(parsed)
    assert parsed.subject == " ".join(subject.split())
    assert lines(parsed.text) == lines(body)
    [attachment] = parsed.attachments
    assert attachment.content == data
    assert attachment.filename == sanitize_filename(filename)
    assert attachment.content_type == "/".join(ctype)
    assert (parsed.from_address, parsed.from_name) == ("ana@example.pt", "Ana Gonçalves")
    assert parsed.message_id == "round.trip@example.pt"


@FAST
@given(name=HEADER_TEXT, subject=HEADER_TEXT)
def test_display_names_round_trip(name, subject):
    msg = EmailMessage(policy=default_policy)
    try:
        msg["From"] = f'"{name.replace(chr(92), "").replace(chr(34), "")}" <x@example.com>'
        msg["Subject"] = subject
    except (ValueError, IndexError):
        assume(False)
    msg.set_content("hi")
    parsed = parse(msg.as_bytes())
    assert parsed.from_address == "x@example.com"
    expected = " ".join(name.replace("\\", "").replace('"', "").split())
    assert parsed.from_name == expected
