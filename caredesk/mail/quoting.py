"""Split a reply into what the sender just wrote and the folded rest.

For display only (the full text is stored elsewhere). The rest starts at the first of:

* an attribution line, possibly wrapped over up to four lines: "On … wrote:",
  "Am … schrieb …:", "Le … a écrit :", "El … escribió:", "Op … schreef …:", and others;
  or any short line ending in ":" directly followed by "> " quoted lines;
* an Outlook separator: "-----Original Message-----" (and its translations), a line of
  underscores, or a "From: … Sent: … To: … Subject:" header block (several languages);
* the final block of "> " quoted lines (interleaved quotes with answers below them are
  kept: the answers are new text);
* a signature separator ("-- " or "--") or a mobile signature ("Sent from my iPhone").

If nothing would be left as the new part, the whole text is the new part.
"""

from __future__ import annotations

import re

_OPENERS = re.compile(r"(?i)^\s*(?:on|am|le|el|op|il|em|den|dne|w dniu|dnia|på|den)\b")
_ATTRIBUTION = re.compile(
    r"""(?ix)^\s*(?:on|am|le|el|op|il|em|den|dne|w\ dniu|dnia|på)\b.{0,500}?
    \b(?:wrote|schrieb|a\ écrit|a\ ecrit|escribió|escribio|schreef|ha\ scritto|
    escreveu|skrev|napisał|napisal|kirjoitti|написал|geschreven)\b[^:]{0,80}:\s*$"""
)
_WROTE_END = re.compile(
    r"(?i)\b(?:wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev|napisał)"
    r"\b[^:]{0,40}:\s*$"
)
_ORIGINAL = re.compile(
    r"""(?ix)^\s*-{2,}\s*(?:original\ message|ursprüngliche\ nachricht|originalnachricht|
    message\ d'origine|mensaje\ original|oorspronkelijk\ bericht|messaggio\ originale|
    mensagem\ original|originalmeddelande|opprinnelig\ melding|oprindelig\ meddelelse|
    alkuperäinen\ viesti|wiadomość\ oryginalna|исходное\ сообщение)\s*-{2,}\s*$"""
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_HDR_FROM = re.compile(
    r"(?i)^\s*\*?(?:from|von|de|van|da|från|fra|od|от|lähettäjä)\s*\*?\s*:\s*\*?\s*\S"
)
_HDR_DATE = re.compile(
    r"(?i)^\s*\*?(?:sent|date|gesendet|datum|envoyé|envoye|enviado|fecha|verzonden|inviato|"
    r"data|skickat|sendt|wysłano|отправлено|lähetetty)\s*\*?\s*:"
)
_HDR_OTHER = re.compile(
    r"(?i)^\s*\*?(?:to|an|à|a|para|aan|till|til|do|кому|subject|betreff|objet|asunto|"
    r"onderwerp|oggetto|assunto|ämne|emne|temat|тема|aihe|cc)\s*\*?\s*:"
)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"""(?ix)^\s*(?:
    sent\ from\ my\ .{1,40}|sent\ from\ (?:outlook|mail|yahoo\ mail|proton\ ?mail)\b.{0,60}|
    get\ outlook\ for\ (?:ios|android).{0,20}|sent\ via\ .{1,40}|
    von\ meinem\ .{1,40}\ gesendet|gesendet\ von\ meinem\ .{1,40}|envoyé\ de\ mon\ .{1,40}|
    enviado\ desde\ mi\ .{1,40}|enviado\ do\ meu\ .{1,40}|verstuurd\ vanaf\ mijn\ .{1,40}|
    inviato\ da(?:l\ mio)?\ .{1,40}|skickat\ från\ min\ .{1,40}|sendt\ fra\ min\ .{1,40}|
    wysłane\ z\ mojego\ .{1,40}
    )\s*$"""
)


def _is_quote(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _attribution_at(lines: list[str], i: int) -> bool:
    if not _OPENERS.match(lines[i]):
        return False
    joined = ""
    for j in range(i, min(i + 4, len(lines))):
        if not lines[j].strip():
            return False
        joined = f"{joined} {lines[j].strip()}" if joined else lines[j].strip()
        if _ATTRIBUTION.match(joined):
            return True
    return False


def _header_block_at(lines: list[str], i: int) -> bool:
    if not _HDR_FROM.match(lines[i]):
        return False
    window = lines[i + 1 : i + 7]
    return any(_HDR_DATE.match(x) for x in window) and any(_HDR_OTHER.match(x) for x in window)


def _final_quote_block(lines: list[str]) -> int | None:
    """Index where the trailing run of quoted (or blank) lines begins, with its intro."""
    start = None
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if _is_quote(line):
            start = i
        elif line.strip():
            break
    if start is None:
        return None
    before = start - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    if before >= 0:
        intro = lines[before].strip()
        if (
            intro.endswith(":")
            and len(intro) < 300
            and ("@" in intro or any(c.isdigit() for c in intro) or _WROTE_END.search(intro))
        ):
            # a wrapped attribution ("On …\n… wrote:") starts a line or two above
            for k in range(max(before - 3, 0), before + 1):
                if _attribution_at(lines, k):
                    return k
            return before
    return start


def split_quoted(text: str) -> tuple[str, str]:
    """(new part, folded rest) of a message text. The new part is never empty when the
    text has content: if everything looks quoted, it is the whole text and the rest is ""."""
    if not text:
        return text, ""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalized.split("\n")
    cut = _final_quote_block(lines)
    limit = len(lines) if cut is None else cut
    for i in range(limit):
        line = lines[i]
        if not line.strip():
            continue
        if (
            _SIGNATURE.match(line)
            or _ORIGINAL.match(line)
            or _UNDERSCORES.match(line)
            or _MOBILE.match(line)
            or _attribution_at(lines, i)
            or _header_block_at(lines, i)
            or (_WROTE_END.search(line) and i + 1 < len(lines) and _is_quote(lines[i + 1]))
        ):
            cut = i
            break
    if cut is None:
        return text, ""
    new = "\n".join(lines[:cut]).rstrip()
    if not new.strip():
        return text, ""
    return new, "\n".join(lines[cut:]).strip("\n")
