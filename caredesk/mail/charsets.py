"""Text from the bytes of mail: legacy and mislabelled charsets, and RFC 2047 encoded
words in headers. Never raises: what cannot be decoded is replaced, and said so.

Split from ``parsing.py`` (which walks the MIME structure and builds ``ParsedMail``):
these functions know nothing about MIME parts, only bytes, labels and header text.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re

from .text import CONTROL

codecs.register_error(
    "caredesk-latin1", lambda e: (e.object[e.start : e.end].decode("latin-1"), e.end)
)

_AUTO = "auto"  # no or unusable label: utf-8 if valid, else windows-1252
# label -> codec. windows-1252 is what "iso-8859-1" mail really is (smart quotes, euro
# sign); cp932, cp949 and gb18030 are the supersets that Japanese, Korean and Chinese
# mailers really use under the older names.
_ALIAS_TABLE = """
auto: us-ascii ascii ansi_x3.4-1968 unknown-8bit x-unknown unknown default x-user-defined
cp1252: iso-8859-1 iso8859-1 iso_8859-1 latin1 latin-1 l1 windows-1252 cp1252 x-cp1252
gb18030: gb2312 gbk x-gbk cp936 euc-cn
cp949: ks_c_5601-1987 ks_c_5601 euc-kr
cp932: shift_jis shift-jis sjis x-sjis ms_kanji windows-31j
big5hkscs: big5
cp874: tis-620 windows-874
iso8859-8: iso-8859-8-i
utf-8: utf8 unicode-1-1-utf-8
mac-roman: x-mac-roman macintosh
"""
_ALIASES = {"": _AUTO} | {
    label: codec
    for line in _ALIAS_TABLE.strip().splitlines()
    for codec, _, labels in [line.partition(": ")]
    for label in labels.split()
}
# codecs that Python knows but that are not charsets (or are dangerous to apply to mail)
_REFUSED = {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs"}
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4]")
_NOT_ASCII_COMPATIBLE = ("utf_16", "utf_32", "utf_7", "iso2022", "hz")


@functools.lru_cache(maxsize=256)
def _codec(label: str) -> tuple[str, bool]:
    """(codec, known) for a charset label; unknown labels decode as _AUTO."""
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    if name in _ALIASES:
        return _ALIASES[name], True
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return _AUTO, False
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return _AUTO, False
    return info.name, True


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str]:
    """Text from bytes in a declared charset; never fails. Returns (text, problem)."""
    codec, known = _codec(label or "")
    if data.isascii() and not codec.startswith(_NOT_ASCII_COMPATIBLE):
        return data.decode("ascii"), ("" if known else f"unknown charset {label!r}")
    problem = "" if known else f"unknown charset {label!r}"
    if codec in (_AUTO, "utf-8"):
        try:
            return data.decode("utf-8"), problem
        except UnicodeDecodeError:
            pass
        if codec == "utf-8" and _UTF8_MULTIBYTE.search(data):
            return data.decode("utf-8", "replace"), "invalid UTF-8 bytes replaced"
        what = f"declared {label!r}" if label and known else "without a charset"
        text = data.decode("cp1252", "caredesk-latin1")
        return text, problem or f"8-bit text {what} decoded as windows-1252"
    if codec == "cp1252":
        return data.decode("cp1252", "caredesk-latin1"), problem
    try:
        return data.decode(codec), problem
    except UnicodeDecodeError:
        return data.decode(codec, "replace"), f"bytes undecodable as {label!r} replaced"
    except Exception:  # a codec that misbehaves: never let it escape
        return data.decode("cp1252", "caredesk-latin1"), f"charset {label!r} failed"


def unescape(value: str) -> str:
    """A raw header string (ASCII + surrogate-escaped 8-bit bytes) as real text."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return decode_bytes(data, None)[0]


_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_EW = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=")
_EW_OPEN = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)$")


def unfold(value: str) -> str:
    return _FOLD.sub("", value) if "\n" in value or "\r" in value else value


def b64decode_lenient(data: bytes) -> tuple[bytes, bool]:
    """Lenient base64: (bytes, clean)."""
    try:
        return binascii.a2b_base64(data), True
    except (binascii.Error, ValueError):
        pass
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    if len(data) % 4 == 1:
        data = data[:-1]
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data), False
    except (binascii.Error, ValueError):
        return b"", False


def decode_header(value: str, problems: list[str] | None = None, what: str = "header") -> str:
    """A header value as text: RFC 2047 encoded words (also broken ones), 8-bit bytes."""
    value = unfold(value)
    if "=?" not in value:
        return CONTROL.sub(" ", unescape(value)).strip()
    out: list[str] = []
    pending: list[bytes] = []
    pending_cs = ""

    def flush() -> None:
        nonlocal pending_cs
        if pending:
            text, problem = decode_bytes(b"".join(pending), pending_cs)
            if problem and problems is not None:
                problems.append(f"{what}: {problem}")
            out.append(text)
            pending.clear()
        pending_cs = ""

    pos = 0
    matches = list(_EW.finditer(value))
    tail = _EW_OPEN.search(value, matches[-1].end() if matches else 0)
    if tail:
        if problems is not None:
            problems.append(f"{what}: unterminated encoded-word")
        matches.append(tail)
    for m in matches:
        between = value[pos : m.start()]
        if between and not (between.isspace() and pending):
            flush()
            out.append(unescape(between))
        charset, enc, payload = m.group(1), m.group(2).upper(), m.group(3)
        raw = payload.encode("utf-8", "surrogateescape")  # surrogates: the original bytes
        if enc == "B":
            data, ok = b64decode_lenient(raw)
            if not ok and problems is not None:
                problems.append(f"{what}: malformed base64 encoded-word")
        else:
            data = binascii.a2b_qp(raw, header=True)
            if " " in payload and problems is not None:
                problems.append(f"{what}: malformed encoded-word (spaces inside)")
        if charset.lower() != pending_cs.lower():
            flush()
            pending_cs = charset
        pending.append(data)
        pos = m.end()
    flush()
    if pos < len(value):
        out.append(unescape(value[pos:]))
    return CONTROL.sub(" ", "".join(out)).strip()
