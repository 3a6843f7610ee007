"""Small text rules shared by the apps."""

from __future__ import annotations

import unicodedata


def one_line(text: str) -> str:
    """``text`` as a single line: control characters (line breaks, tabs, NUL…) and runs
    of white space become one space, and the ends are trimmed. For a subject: it goes
    into mail headers, where a line break is refused (and would fail every delivery of
    the ticket's mail), and into one-line lists."""
    if text.isprintable():  # the usual case: no control character to replace
        return " ".join(text.split())
    spaced = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(spaced.split())


def as_number(text: str, *, digits: int = 18) -> int | None:
    """The number ``text`` spells in at most ``digits`` decimal digits (18: it fits a
    64-bit key; any script's, as ``int()`` reads them: full-width 12 too); None for anything
    else. Not ``str.isdigit()``: it accepts "²", which ``int()`` refuses, and no length,
    where a 30-digit key overflows the database."""
    if text.isdecimal() and len(text) <= digits:
        return int(text)
    return None
