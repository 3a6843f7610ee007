"""Text from mail: cleaning decoded text, sanitizing HTML with nh3, and HTML to plain
text (a small html.parser converter that only ever reads nh3's clean output)."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import nh3

MAX_HTML = 5_000_000  # characters of HTML sanitized (the raw message keeps the rest)
MAX_HTML_DEPTH = 500  # nesting of block elements that is still sanitized (see _too_deep)
MAX_HTML_TO_TEXT = 1_000_000  # characters of HTML converted to text
MAX_QUOTE_DEPTH = 10  # "> " prefixes written for nested blockquotes

CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Line endings normalized, NUL and lone surrogates gone (databases refuse them)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        text = SURROGATE.sub("\ufffd", text)
    return text


# ---------------------------------------------------------------- headers


_CLEAN_OPTIONS = {
    "url_schemes": {"http", "https", "mailto", "tel", "cid"},
    "clean_content_tags": {"script", "style", "title", "template", "xml"},
}


# html5ever (inside nh3) is quadratic in the nesting depth of block elements: 300 KB of
# "<div>x" take seconds, of "<ul><li>x" most of a minute. Deeper HTML is not sanitized.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)")
_FLAT = frozenset(
    "area base basefont bgsound br col embed frame hr img input keygen link meta param source"  # noqa: SIM905
    " track wbr p li dt dd option optgroup tr td th thead tbody tfoot colgroup rb rt rp"
    " h1 h2 h3 h4 h5 h6".split()
)


def _too_deep(html: str) -> bool:
    depth = 0
    for m in _TAG.finditer(html):
        if m.group(2).lower() in _FLAT:
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > MAX_HTML_DEPTH:
                return True
    return False


def try_sanitize(html: str) -> str | None:
    """Safe HTML (None if nested too deeply to sanitize in reasonable time)."""
    html = html[:MAX_HTML]
    if _too_deep(html):
        return None
    try:
        return nh3.clean(html, **_CLEAN_OPTIONS).strip()
    except Exception:
        return nh3.clean(SURROGATE.sub("\ufffd", html), **_CLEAN_OPTIONS).strip()


def sanitize_html(html: str) -> str:
    """The HTML without scripts, styles, event handlers or unsafe URLs ("" if unusable)."""
    return try_sanitize(html) or ""


_BLOCK = frozenset(
    "address article aside center dd div dl dt fieldset figure footer form h1 h2 h3 h4 h5 h6"  # noqa: SIM905
    " header li main nav ol p pre section table tbody thead tfoot tr ul caption".split()
)
_PARAGRAPH = frozenset("p h1 h2 h3 h4 h5 h6 table ul ol dl pre".split())  # noqa: SIM905
_SKIP = frozenset("script style head title template xml object svg".split())  # noqa: SIM905
_SPACES = re.compile(r"[ \t\n\r\f\v\xa0\u200b]+")


class _TextExtractor(HTMLParser):
    def __init__(self, word: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        # Word/Outlook HTML: every <p class=MsoNormal> is one line, an empty one a blank line
        self.word = word
        self.lines: list[tuple[int, str]] = []
        self.cur: list[str] = []
        self.cur_depth = 0
        self.depth = 0
        self.skip = 0
        self.pre = 0
        self.lists: list[int] = []  # -1 for <ul>, else the next number of an <ol>
        self.href: list[str | None] = []
        self.anchor: list[str] = []

    def _break(self, blank: bool = False) -> None:
        if self.cur:
            self.lines.append((self.cur_depth, "".join(self.cur).rstrip()))
            self.cur = []
        if blank and self.lines and self.lines[-1][1]:
            self.lines.append((self.depth, ""))

    def _emit(self, text: str) -> None:
        if not self.cur:
            self.cur_depth = self.depth
            if not self.pre:
                text = text.lstrip()
        if text:
            self.cur.append(text)
            if self.href:
                self.anchor.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            if not self.cur:
                self.lines.append((self.depth, ""))
            self._break()
        elif tag == "blockquote":
            self._break(blank=True)
            self.depth += 1
        elif tag in ("ul", "ol"):
            self._break(blank=not self.lists)
            self.lists.append(-1 if tag == "ul" else 1)
        elif tag == "li":
            self._break()
            if self.lists and self.lists[-1] > 0:
                self._emit(f"{'  ' * min(len(self.lists) - 1, 10)}{self.lists[-1]}. ")
                self.lists[-1] += 1
            else:
                self._emit(f"{'  ' * min(max(len(self.lists) - 1, 0), 10)}- ")
        elif tag == "hr":
            self._break()
            self.lines.append((self.depth, "---"))
        elif tag in ("td", "th"):
            if self.cur:
                self._emit("  ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.anchor = []
        elif tag == "p" and self.word:
            self._break()
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)
            if tag == "pre":
                self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "blockquote":
            self._break(blank=True)
            self.depth = max(self.depth - 1, 0)
        elif tag in ("ul", "ol"):
            self._break(blank=len(self.lists) <= 1)
            if self.lists:
                self.lists.pop()
        elif tag == "a" and self.href:
            href = (self.href.pop() or "").strip()
            label = "".join(self.anchor).strip()
            shown = href[7:] if href.lower().startswith("mailto:") else href
            if href.lower().startswith(("http:", "https:", "mailto:")) and shown != label:
                self._emit(f" ({shown})" if label else shown)
        elif tag == "p" and self.word:
            if self.cur:
                self._break()
            elif self.lines and self.lines[-1][1]:
                self.lines.append((self.depth, ""))
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.replace("\xa0", " ").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._break() if self.cur else self.lines.append((self.depth, ""))
                if part:
                    self._emit(part)
        else:
            self._emit(_SPACES.sub(" ", data))

    def text(self) -> str:
        self._break()
        out: list[str] = []
        for depth, line in self.lines:
            if not line and out and not out[-1].strip("> "):
                continue  # one blank line at most
            out.append(("> " * min(depth, MAX_QUOTE_DEPTH) + line).rstrip() if depth else line)
        while out and not out[-1].strip("> "):
            out.pop()
        return "\n".join(out).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: blocks and <br> as newlines, lists, links as
    "text (url)", blockquotes as "> " lines (so quoting.split_quoted() sees them)."""
    clean = try_sanitize(html)
    return strip_tags(html) if clean is None else extract_text(clean, "MsoNormal" in html)


def extract_text(clean_html: str, word: bool) -> str:
    # html.parser is quadratic on some malformed input (unclosed comments and tags): it
    # reads html5ever's well-formed serialization, never the raw mail.
    try:
        parser = _TextExtractor(word=word)
        parser.feed(clean_html[:MAX_HTML_TO_TEXT])
        parser.close()
        return parser.text()
    except Exception:
        return strip_tags(clean_html)


def strip_tags(html: str) -> str:
    text = html_lib.unescape(re.sub(r"<[^<>]*>", " ", html[:MAX_HTML_TO_TEXT]))
    lines = (" ".join(line.split()) for line in clean_text(text).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
