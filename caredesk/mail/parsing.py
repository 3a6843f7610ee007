"""Raw email bytes -> :class:`ParsedMail`: what the help desk needs from a message.

``parse()`` is a pure function (no database, no settings) and never raises: whatever the
bytes, it returns a ``ParsedMail``; what it had to repair or guess is listed in
``defects``. Every ``str`` it returns is valid Unicode (no lone surrogates) without NUL
characters, so it can be stored as is.

Why ``policy.compat32`` and not ``policy.default``: the modern policy builds a header
object for every header it touches, including the ones the parser itself reads
(Content-Type, boundary), which makes ``message_from_bytes(raw, policy=default)`` about
eight times slower than with compat32 on a realistic mailbox (1,029 against 8,731 msg/s,
the 5,000 messages of bench/mail_ingest.py, one core, 2026-11-27), and reading every
header and decoding every part with it (518 msg/s) five times slower than all of
``parse()`` (2,876 msg/s, sanitizing and text extraction included); its header access
can also raise on malformed input. With compat32 the parser keeps raw header strings; this
module decodes the few headers it needs itself (RFC 2047 encoded words and legacy
charsets in ``charsets.py``, RFC 2231 parameters here, raw 8-bit text), which is both
faster and more forgiving.
"""

from __future__ import annotations

import binascii
import email
import email.policy
import email.utils
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from urllib.parse import unquote_to_bytes

from caredesk.lib.text import as_number

from . import loops
from .charsets import b64decode_lenient, decode_bytes, decode_header, unescape, unfold
from .text import (
    CONTROL,
    MAX_HTML,
    SURROGATE,
    clean_text,
    extract_text,
    html_to_text,
    sanitize_html,
    strip_tags,
    try_sanitize,
)

__all__ = [
    "Bounce",
    "ParsedAttachment",
    "ParsedMail",
    "decode_bytes",
    "decode_header",
    "html_to_text",
    "parse",
    "sanitize_filename",
    "sanitize_html",
    "unflow",
]

MAX_DEPTH = 30  # MIME nesting we follow; deeper parts are ignored (noted as a defect)


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    filename: str  # decoded, without path separators, never empty
    content_type: str  # lower-case "type/subtype"
    content: bytes  # decoded payload
    inline: bool  # Content-Disposition: inline, or no disposition but a Content-ID
    content_id: str  # without <>; "" if none


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_ids: list[str]  # Message-ID(s) of the mail that bounced
    recipients: list[str]  # Final-Recipient / Original-Recipient addresses
    status: str  # e.g. "5.1.1"
    diagnostic: str  # Diagnostic-Code text
    permanent: bool  # Action: failed / status 5.x.x


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    date: datetime | None
    text: str
    html: str
    attachments: list[ParsedAttachment]
    auto_submitted: str
    bounce: Bounce | None
    defects: list[str]
    # Tokens of X-Auto-Response-Suppress, lower-case (e.g. ["all"], ["oof", "autoreply"]):
    # the sender asks not to be auto-answered; see loops.may_auto_reply().
    auto_response_suppress: list[str] = field(default_factory=list)
    # Authentication-Results headers, unfolded, top (newest) first, with "" for each
    # Received header among them (a hop between servers): see mail/authentication.py.
    authentication_results: list[str] = field(default_factory=list)


# Real Message-IDs are well under 100 characters; the database columns and their indexes
# hold 998 characters, and PostgreSQL's index rows at most 2,704 bytes.
MAX_ID_BYTES = 250


def _fit_id(item: str) -> str:
    """An id as stored and compared: longer ones become a digest of themselves, so the
    same overlong id still matches itself (threading) and always fits every index."""
    if len(item.encode()) <= MAX_ID_BYTES:
        return item
    return f"sha256.{hashlib.sha256(item.encode(errors='replace')).hexdigest()}@overlong.invalid"


def _ids(value: str) -> list[str]:
    """Message ids from Message-ID / In-Reply-To / References, without <> or spaces."""
    value = unescape(unfold(value))
    found = re.findall(r"<([^<>]*)>", value)
    if not found:  # ids without brackets, as some mailers write them
        found = [v for v in re.split(r"[\s,]+", value) if "@" in v]
    seen: dict[str, None] = {}
    for item in found:
        item = "".join(item.split()).replace("\x00", "")
        if item:
            seen.setdefault(_fit_id(item), None)
    return list(seen)


_ADDR_FALLBACK = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


_SIMPLE_ADDR = re.compile(r"\s*(?:([^<>@]*?)\s*<([^<>\s@]+@[^<>\s@]+)>|([^<>\s@]+@[^<>\s@]+))\s*")


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """Fast path for the usual 'Name <a@b>, c@d' (no quotes, comments or groups)."""
    if any(c in value for c in '"()\\;:'):
        return None
    pairs = []
    for item in value.split(","):
        m = _SIMPLE_ADDR.fullmatch(item)
        if m is None:
            if item.strip():
                return None
            continue
        pairs.append((m.group(1) or "", m.group(2) or m.group(3)))
    return pairs


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(name, lower-case address) pairs; names decoded; only addresses with an @."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for value in values:
        value = unfold(value)
        try:
            pairs = _simple_addresses(value)
            if pairs is None:
                pairs = email.utils.getaddresses([value])
            if not any("@" in a for _, a in pairs):
                pairs = email.utils.getaddresses([value], strict=False)
        except Exception:
            pairs = []
        if not any("@" in a for _, a in pairs):
            pairs = [("", a) for a in _ADDR_FALLBACK.findall(value)]
        for name, addr in pairs:
            addr = CONTROL.sub("", unescape(addr)).strip().strip("<>").lower()
            if "@" not in addr or addr in seen or " " in addr:
                continue
            seen.add(addr)
            out.append((decode_header(name) if name else "", addr))
    return out


def _date(value: str, problems: list[str]) -> datetime | None:
    try:
        date = email.utils.parsedate_to_datetime(unescape(unfold(value)).strip())
    except Exception:
        date = None
    if date is None:
        problems.append(f"unparseable Date header {value[:60]!r}")
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


# ---------------------------------------------------------------- MIME parameters


def _params(value: str) -> tuple[str, dict[str, str]]:
    """('type/subtype' or disposition, {param: decoded value}) of a raw header value."""
    value = unfold(value)
    if '"' not in value:
        return _param_items(value.split(";"))
    items, buf, quoted, escape = [], [], False, False
    for ch in value:
        if escape:
            buf.append(ch)
            escape = False
        elif quoted and ch == "\\":
            escape = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    return _param_items(items)


def _param_items(items: list[str]) -> tuple[str, dict[str, str]]:
    head = items[0].strip().lower()
    plain: dict[str, str] = {}
    ext: dict[str, dict[int, tuple[bool, str]]] = {}
    for item in items[1:]:
        name, eq, val = item.partition("=")
        if not eq:
            continue
        name, val = name.strip().lower(), val.strip()
        if "*" in name:
            base, _, rest = name.partition("*")
            encoded = rest.endswith("*") or rest == ""
            idx = rest.rstrip("*")
            ext.setdefault(base, {})[as_number(idx) or 0] = (encoded, val)
        else:
            plain.setdefault(name, val)
    for base, segments in ext.items():
        chunks, charset = [], ""
        for i, (idx, (encoded, val)) in enumerate(sorted(segments.items())):
            if i == 0 and idx == 0 and encoded and val.count("'") >= 2:
                charset, _, val = val.split("'", 2)
            if encoded:
                chunks.append(unquote_to_bytes(val.encode("utf-8", "surrogateescape")))
            else:
                chunks.append(val.encode("utf-8", "surrogateescape"))
        plain[base] = decode_bytes(b"".join(chunks), charset or None)[0]
    return head, plain


# ---------------------------------------------------------------- the MIME walk

_DEFECTS = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "StartBoundaryNotFoundDefect": "multipart start boundary not found",
    "CloseBoundaryNotFoundDefect": "multipart closing boundary missing (truncated message?)",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation line",
    "MisplacedEnvelopeHeaderDefect": "misplaced envelope (From ) line in the headers",
    "MissingHeaderBodySeparatorDefect": "malformed header line (no blank line before the body?)",
    "MultipartInvariantViolationDefect": "declared multipart but has no parts",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with an invalid transfer encoding",
    "UndecodableBytesDefect": "undecodable bytes",
    "InvalidBase64PaddingDefect": "invalid base64 padding",
    "InvalidBase64CharactersDefect": "invalid base64 characters",
    "InvalidBase64LengthDefect": "invalid base64 length",
}
_SIGNATURES = {"application/pgp-signature", "application/pkcs7-signature"}
_SIGNATURES.add("application/x-pkcs7-signature")
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=\s]*")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_EXTENSIONS = {
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
    "application/ms-tnef": ".dat",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "message/rfc822": ".eml",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
}


class _Body:
    __slots__ = ("html", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: list[str] = []


class _Walk:
    def __init__(self) -> None:
        self.attachments: list[ParsedAttachment] = []
        self.defects: list[str] = []
        self.report_type = ""
        self.dsn: list[dict[str, str]] | None = None
        self.returned_ids: list[str] = []  # Message-IDs of attached/returned messages

    def defect(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)


def _header_dict(items) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(str(name).strip().lower(), []).append(str(value))
    return out


def _part_headers(part: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in part.raw_items():
        key = str(name).lower()
        if key.startswith("content-") and key not in out:
            out[key] = str(value)
    return out


def _payload_bytes(part: Message, cte: str, label: str, st: _Walk) -> bytes:
    # the stored payload: get_payload() would decode 8-bit text with a guessed charset
    payload = getattr(part, "_payload", None)
    if isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        try:
            data = payload.encode("ascii", "surrogateescape")
        except UnicodeEncodeError:
            data = payload.encode("utf-8", "surrogateescape")
    else:
        return b""
    if cte == "base64":
        clean = _B64_CHARS.fullmatch(data) is not None
        data, ok = b64decode_lenient(data)
        if not (ok and clean):
            st.defect(f"{label}: invalid base64, decoded as far as possible")
        return data
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        try:
            decoded = part.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else data
        except Exception:
            st.defect(f"{label}: undecodable uuencoded data")
    elif cte not in ("", "7bit", "8bit", "binary"):
        st.defect(f"{label}: unknown transfer encoding {cte[:40]!r}, kept as is")
    return data


def sanitize_filename(name: str) -> str:
    """A file name without directories, control characters or surrounding dots/spaces."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(CONTROL.sub(" ", SURROGATE.sub("", name)).split()).strip(" .")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 190 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else name[:200]
    return name


def _fallback_name(ctype: str, index: int) -> str:
    ext = _EXTENSIONS.get(ctype)
    if ext is None:
        try:
            ext = mimetypes.guess_extension(ctype, strict=False) or ".bin"
        except Exception:
            ext = ".bin"
    return f"attachment-{index}{ext}"


def _walk(part: Message, body: _Body, st: _Walk, depth: int, alt: bool, root: bool) -> None:
    for d in getattr(part, "defects", ()):
        name = type(d).__name__
        st.defect(_DEFECTS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower())
    if depth > MAX_DEPTH:
        st.defect("MIME structure nested too deeply; inner parts ignored")
        return
    h = _part_headers(part)
    if "content-type" in h:
        ctype, cparams = _params(h["content-type"])
        if not _MIME_TYPE.fullmatch(ctype):
            st.defect(f"invalid Content-Type {ctype[:40]!r}, read as text/plain")
            ctype = "text/plain"
    else:
        ctype, cparams = part.get_default_type(), {}
    payload = getattr(part, "_payload", None)  # not get_payload(): it may decode (and fail)
    if isinstance(payload, list):
        _container(part, ctype, cparams, h, payload, body, st, depth)
        return
    disposition, dparams = (
        _params(h["content-disposition"]) if "content-disposition" in h else ("", {})
    )
    filename = dparams.get("filename") or cparams.get("name") or ""
    filename = decode_header(filename) if "=?" in filename else unescape(filename)
    cte = unescape(h.get("content-transfer-encoding", "")).strip().lower()
    is_text = ctype in ("text/plain", "text/html")
    if is_text and disposition != "attachment" and (alt or root or not filename):
        _text_part(part, ctype, cparams, cte, body, st)
    elif ctype == "text/rfc822-headers":
        text, _ = decode_bytes(_payload_bytes(part, cte, ctype, st), cparams.get("charset"))
        found = re.search(r"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", text)
        if found:
            st.returned_ids.extend(_ids(found.group(1)))
    elif ctype == "message/delivery-status":  # not parsed into blocks by the stdlib
        text, _ = decode_bytes(_payload_bytes(part, cte, ctype, st), None)
        st.dsn = [_fields(block) for block in re.split(r"\r?\n\s*\r?\n", text)]
    elif ctype in _SIGNATURES:
        pass  # a PGP/S-MIME signature: nothing an agent can use
    else:
        label = filename or ctype
        content = _payload_bytes(part, cte, f"attachment {label[:60]!r}", st)
        _attach(st, filename, ctype, content, disposition, h.get("content-id", ""))


def _attach(st: _Walk, filename: str, ctype: str, content: bytes, disp: str, cid: str) -> None:
    name = sanitize_filename(filename) or _fallback_name(ctype, len(st.attachments) + 1)
    cid = "".join(unescape(unfold(cid)).split()).strip("<>").replace("\x00", "")
    inline = disp == "inline" or (not disp and bool(cid))
    st.attachments.append(ParsedAttachment(name, ctype, content, inline, cid))


def _text_part(part: Message, ctype: str, cparams: dict, cte: str, body: _Body, st: _Walk) -> None:
    data = _payload_bytes(part, cte, ctype, st)
    label = cparams.get("charset")
    if not label and ctype == "text/html" and not data.isascii():
        meta = _META_CHARSET.search(data, 0, 4096)
        label = meta.group(1).decode("ascii") if meta else None
    text, problem = decode_bytes(data, label)
    if problem:
        st.defect(f"{ctype} part: {problem}")
    text = clean_text(text)
    if ctype == "text/html":
        body.html.append(text)
    else:
        if cparams.get("format", "").lower() == "flowed":
            text = unflow(text, cparams.get("delsp", "").lower() == "yes")
        body.text.append(text)


def _container(
    part: Message,
    ctype: str,
    cparams: dict,
    h: dict,
    payload: list,
    body: _Body,
    st: _Walk,
    depth: int,
) -> None:
    if ctype == "message/delivery-status":
        st.dsn = [_fields(_header_dict(block.raw_items())) for block in payload]
        return
    if ctype.startswith("message/"):  # an attached or forwarded message: not our body
        inner = payload[0] if payload else None
        if not isinstance(inner, Message):
            return
        inner_headers = _header_dict(inner.raw_items())
        st.returned_ids.extend(_ids(inner_headers.get("message-id", [""])[0]))
        subject = decode_header(inner_headers.get("subject", [""])[0])
        disposition, dparams = _params(h.get("content-disposition", ""))
        filename = dparams.get("filename") or cparams.get("name") or ""
        if not filename and subject:
            filename = f"{subject[:150]}.eml"
        try:
            content = inner.as_bytes()
        except Exception:
            content = b""
            st.defect("attached message could not be kept")
        _attach(st, filename, "message/rfc822", content, disposition, h.get("content-id", ""))
        return
    if ctype == "multipart/alternative":
        chosen_text: list[str] = []
        chosen_html: list[str] = []
        for child in payload:
            sub = _Body()
            _walk(child, sub, st, depth + 1, alt=True, root=False)
            if any(t.strip() for t in sub.text):
                chosen_text = sub.text  # the last alternative is the preferred one
            if sub.html:
                chosen_html = sub.html
        body.text.extend(chosen_text)
        body.html.extend(chosen_html)
        return
    if ctype == "multipart/report" and depth <= 2:
        st.report_type = cparams.get("report-type", "").strip().lower()
    for child in payload:
        _walk(child, body, st, depth + 1, alt=False, root=False)


def unflow(text: str, delsp: bool = False) -> str:
    """RFC 3676 format=flowed: join soft-broken lines, remove space-stuffing."""
    out: list[str] = []
    buf: str | None = None
    buf_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if buf is not None and depth == buf_depth:
            buf += content
        else:
            if buf is not None:
                out.append((">" * buf_depth + " " if buf_depth else "") + buf)
            buf, buf_depth = content, depth
        if not flowed:
            out.append((">" * buf_depth + " " if buf_depth else "") + buf)
            buf = None
    if buf is not None:
        out.append((">" * buf_depth + " " if buf_depth else "") + buf)
    return "\n".join(out)


# ---------------------------------------------------------------- bounces

_FIELD = re.compile(r"(?m)^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_MSGID_LINE = re.compile(r"(?im)^[ \t>]*message-id:[ \t]*(<[^>\r\n]+>)")
_QMAIL_RCPT = re.compile(r"(?m)^<([^<>\s]+@[^<>\s]+)>:")
_SMTP_CODE = re.compile(r"\b[45]\d\d[ -]")


def _fields(block) -> dict[str, str]:
    """A DSN field block (header dict or text) as {lower-case name: unfolded value}."""
    if isinstance(block, str):
        pairs = [(m.group(1).lower(), m.group(2)) for m in _FIELD.finditer(block)]
    else:
        pairs = [(k, unescape(v[0])) for k, v in block.items()]
    return {k: " ".join(CONTROL.sub(" ", v).split()) for k, v in pairs}


def _address_field(value: str) -> str:
    addr = value.partition(";")[2] if ";" in value else value
    addr = addr.strip().strip("<>").lower()
    return addr if "@" in addr else ""


def _bounce(hdrs: dict[str, list[str]], st: _Walk, text: str, subject: str) -> Bounce:
    ids = list(dict.fromkeys(st.returned_ids))
    recipients: list[str] = []
    status = diagnostic = ""
    permanent = False
    for block in st.dsn or []:
        for key in ("final-recipient", "original-recipient"):
            addr = _address_field(block.get(key, ""))
            if addr and addr not in recipients:
                recipients.append(addr)
        action = block.get("action", "").lower()
        block_status = _STATUS.search(block.get("status", ""))
        if action == "failed" or (block_status and block_status.group(1)[0] == "5"):
            permanent = True
        if block_status and not status:
            status = block_status.group(1)
        if block.get("diagnostic-code") and not diagnostic:
            diagnostic = (
                block["diagnostic-code"].partition(";")[2].strip() or block["diagnostic-code"]
            )
    if st.dsn is None:  # a non-standard bounce: read what the text says
        for value in hdrs.get("x-failed-recipients", []):
            recipients += [a for _, a in _addresses([value]) if a not in recipients]
        recipients += [a.lower() for a in _QMAIL_RCPT.findall(text) if a not in recipients]
        found = _STATUS.search(text)
        status = found.group(1) if found else ""
        code = _SMTP_CODE.search(text)
        if code:
            start = text.rfind("\n", 0, code.start()) + 1
            end = text.find("\n", code.end())
            diagnostic = " ".join(text[start : end if end >= 0 else len(text)].split())
        delayed = re.search(r"(?i)\bdelay", subject)
        permanent = status.startswith("5") or (not status and not delayed)
        ids += [i for m in _MSGID_LINE.findall(text) for i in _ids(m)]
    ids += _ids(hdrs.get("in-reply-to", [""])[0])
    if not ids:
        ids = _ids(hdrs.get("references", [""])[0])[-1:]
    return Bounce(
        original_message_ids=list(dict.fromkeys(ids)),
        recipients=recipients,
        status=status,
        diagnostic=diagnostic[:2000],
        permanent=permanent,
    )


_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}


def _report_kind(st: _Walk, hdrs, from_address: str, from_name: str, subject: str) -> str:
    """ "bounce" (a delivery failure), "notification" (a success DSN, a read receipt), ""."""
    if st.report_type == "delivery-status" or st.dsn is not None:
        actions = {b.get("action", "").lower() for b in st.dsn or [] if "action" in b}
        return "notification" if actions and actions <= _SUCCESS_ACTIONS else "bounce"
    if st.report_type == "disposition-notification":
        return "notification"
    return_path = hdrs.get("return-path", [""])[0].strip()
    has_original = bool(st.returned_ids) or any(
        a.content_type == "message/rfc822" for a in st.attachments
    )
    if loops.looks_like_bounce(from_address, from_name, subject, return_path, has_original):
        return "bounce"
    return ""


# ---------------------------------------------------------------- parse()


def parse(raw: bytes) -> ParsedMail:
    """Everything caredesk needs from one message. Never raises."""
    try:
        if not isinstance(raw, bytes):
            raw = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    except Exception:
        raw = b""
    try:
        return _parse(raw)
    except Exception as exc:  # the stdlib parser gave up (deep nesting, ...): keep the text
        try:
            return _fallback(raw, exc)
        except Exception:
            return _build({}, _Body(), _Walk(), ["unparseable message"])


def _parse(raw: bytes) -> ParsedMail:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    st = _Walk()
    body = _Body()
    _walk(msg, body, st, 0, alt=False, root=True)
    problems = [] if raw.strip() else ["empty message"]
    items = list(msg.raw_items())
    return _build(_header_dict(items), body, st, problems, _hops(items))


_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    """A raw message's header block and its body (no blank line: all of it is header)."""
    found = _HEADER_BLOCK_END.search(raw)
    return (raw[: found.start()], raw[found.end() :]) if found else (raw, b"")


def _fallback(raw: bytes, exc: Exception) -> ParsedMail:
    head, rest = split_header_block(raw)
    head_text = head.decode("ascii", "surrogateescape")
    body = _Body()
    body.text.append(clean_text(decode_bytes(rest, None)[0]))
    problem = f"MIME structure unreadable ({type(exc).__name__}); the body is kept as raw text"
    fields = [(m.group(1), m.group(2)) for m in _FIELD.finditer(head_text)]
    return _build(_header_dict(fields), body, _Walk(), [problem], _hops(fields))


HOPS_KEPT = 100  # Authentication-Results and Received headers kept, from the top


def _hops(items) -> list[str]:
    """The Authentication-Results headers in order, "" for each Received header."""
    out = []
    for name, value in items:
        key = str(name).strip().lower()
        if key == "authentication-results":
            out.append(CONTROL.sub(" ", unfold(str(value))))
        elif key == "received":
            out.append("")
        if len(out) >= HOPS_KEPT:
            break
    return out


def _build(
    hdrs: dict[str, list[str]],
    body: _Body,
    st: _Walk,
    problems: list[str],
    hops: list[str] = (),
) -> ParsedMail:
    def first(name: str) -> str:
        values = hdrs.get(name)
        return values[0] if values else ""

    message_ids = _ids(first("message-id"))
    if not message_ids:
        problems.append("no Message-ID header")
    subject = " ".join(decode_header(first("subject"), problems, "Subject").split())
    senders = _addresses(hdrs.get("from", []))
    if not senders:
        problems.append("no usable From address" if hdrs.get("from") else "no From header")
    from_name, from_address = senders[0] if senders else ("", "")
    from_name = " ".join(from_name.split())
    date = _date(first("date"), problems) if hdrs.get("date") else None
    if "date" not in hdrs:
        problems.append("no Date header")

    text = "\n\n".join(t.strip("\n") for t in body.text if t.strip())
    html_source = "\n".join(body.html)
    html = ""
    if html_source.strip():
        clean = try_sanitize(html_source)
        if len(html_source) > MAX_HTML:
            problems.append(f"HTML longer than {MAX_HTML} characters: the rest is not kept")
        if clean is None:
            problems.append("HTML nested too deeply to be kept; only its text is")
        html = clean or ""
        if not text:
            word = "MsoNormal" in html_source
            raw_text = strip_tags(html_source) if clean is None else extract_text(html, word)
            text = clean_text(raw_text)

    report = _report_kind(st, hdrs, from_address, from_name, subject)
    flat = {
        n: CONTROL.sub(" ", unescape(unfold(v[0]))) for n, v in hdrs.items() if n in loops.HEADERS
    }
    suppress = loops.auto_response_suppress(flat.get("x-auto-response-suppress", ""))
    auto = loops.auto_submitted_kind(
        flat, from_address=from_address, subject=subject, report=report
    )
    bounce = _bounce(hdrs, st, text, subject) if auto == "bounce" else None
    return ParsedMail(
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=_ids(",".join(hdrs.get("in-reply-to", []))),
        references=_ids(" ".join(hdrs.get("references", []))),
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        to=[a for _, a in _addresses(hdrs.get("to", []))],
        cc=[a for _, a in _addresses(hdrs.get("cc", []))],
        reply_to=[a for _, a in _addresses(hdrs.get("reply-to", []))],
        date=date,
        text=text,
        html=html,
        attachments=st.attachments,
        auto_submitted=auto,
        bounce=bounce,
        defects=[CONTROL.sub(" ", clean_text(d)) for d in dict.fromkeys(problems + st.defects)],
        auto_response_suppress=suppress,
        authentication_results=list(hops),
    )
