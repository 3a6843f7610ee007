"""``smtpd.read_data``, the intake's DATA reader, against the protocol's own definition
(RFC 5321 4.1.1.4 and 4.5.2): the content ends at the first line holding only a dot, a
leading dot of a line is removed, and nothing after the end marker is read (a pipelining
client may already have sent its next command). Fed in random pieces through a real
asyncio stream reader, with buffer limits small enough that reads stop at them often."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caredesk.mail.smtpd import END_OF_DATA, TooMuchData, read_data

from .factories import run_async

NEXT_COMMAND = b"QUIT\r\n"

# Bytes that matter to the reader, so that random content is full of near-markers.
pieces = st.sampled_from(
    [b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.", b"\r\n.\r", b"x", b"Hello", b"\r\r\n", b"\xff"]
)
raw_streams = st.lists(st.one_of(pieces, st.binary(max_size=20)), max_size=40).map(b"".join)


def stuffed(content: bytes) -> bytes:
    """What a client sends for ``content`` (its lines ending in CRLF): each line that
    begins with a dot gets one more, then the end marker's dot line."""
    sent = (b"\r\n" + content).replace(b"\r\n.", b"\r\n..")[2:]
    return sent + b".\r\n"


def by_the_rfc(stream: bytes) -> bytes:
    """The content of a DATA stream, straight from the definition."""
    framed = b"\r\n" + stream
    end = framed.index(END_OF_DATA)
    lines = framed[2 : end + 2].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def read(stream: bytes, *, limit: int, cuts: list[int], max_bytes: int | None = None):
    """(what read_data returned or raised, the bytes left in the reader)."""

    async def run():
        reader = asyncio.StreamReader(limit=limit)

        async def feed():
            start = 0
            for cut in [*sorted(cuts), len(stream)]:
                reader.feed_data(stream[start:cut])
                start = max(start, cut)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeder = asyncio.ensure_future(feed())
        try:
            result = await read_data(reader, max_bytes)
        except TooMuchData as refused:
            result = refused
        await feeder
        return result, await reader.read()

    return run_async(run())


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(raw_streams.map(lambda b: b.replace(b"\r\n", b"")), max_size=12),
    limit=st.integers(8, 64),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_what_a_client_sends_comes_back_exactly(lines, limit, cuts):
    content = b"".join(line + b"\r\n" for line in lines)
    result, rest = read(stuffed(content) + NEXT_COMMAND, limit=limit, cuts=cuts)
    assert result == content
    assert rest == NEXT_COMMAND


@settings(max_examples=300, deadline=None)
@given(raw=raw_streams, limit=st.integers(8, 64), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_any_stream_ends_where_the_rfc_says(raw, limit, cuts):
    stream = raw + END_OF_DATA + NEXT_COMMAND
    result, rest = read(stream, limit=limit, cuts=cuts)
    assert result == by_the_rfc(stream)
    end = (b"\r\n" + stream).index(END_OF_DATA) - 2 + len(END_OF_DATA)
    assert rest == stream[end:]  # not a byte past the marker


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(raw_streams.map(lambda b: b.replace(b"\r\n", b"")), max_size=12),
    max_bytes=st.integers(1, 120),
    limit=st.integers(8, 64),
)
def test_over_the_size_limit_it_is_refused_after_reading_to_the_end(lines, max_bytes, limit):
    content = b"".join(line + b"\r\n" for line in lines)
    sent = stuffed(content)
    result, rest = read(sent + NEXT_COMMAND, limit=limit, cuts=[], max_bytes=max_bytes)
    transmitted = len(sent) - len(b".\r\n")  # as aiosmtpd counts: the lines as sent
    if transmitted > max_bytes:
        assert isinstance(result, TooMuchData)
    else:
        assert result == content
    assert rest == NEXT_COMMAND


@pytest.mark.parametrize(
    ("stream", "content"),
    [
        (b".\r\n", b""),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"a\r\n\r\n.\r\n", b"a\r\n\r\n"),
        (b"a\r\n.b\r\n.\r\n", b"a\r\nb\r\n"),
        (b"a\r\n.\r.\r\n.\r\n", b"a\r\n\r.\r\n"),
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n"),  # a bare LF ends no line
    ],
)
def test_examples(stream, content):
    assert read(stream, limit=8, cuts=[1, 2, 3])[0] == content


def test_a_message_is_read_at_once_not_line_by_line():
    content = b"".join(b"Line %d of a long enough message\r\n" % n for n in range(200))
    reads = []

    async def run():
        reader = asyncio.StreamReader(limit=1 << 20)
        for name in ("readuntil", "readexactly"):
            method = getattr(reader, name)

            async def counted(*args, _method=method):
                reads.append(args)
                return await _method(*args)

            setattr(reader, name, counted)
        reader.feed_data(stuffed(content))
        return await read_data(reader, None)

    assert run_async(run()) == content
    assert len(reads) == 2  # the first byte (not a dot), then the rest up to the marker


def test_content_read_a_line_at_a_time_still_lets_other_sessions_run():
    content = b"\r\n" * 1000  # empty lines: read a line at a time, all already buffered
    turns = []

    async def run():
        reader = asyncio.StreamReader(limit=1 << 20)
        reader.feed_data(stuffed(content))

        async def other_session():
            while True:
                turns.append(len(turns))
                await asyncio.sleep(0)

        other = asyncio.ensure_future(other_session())
        await asyncio.sleep(0)  # it starts
        started = len(turns)
        result = await read_data(reader, None)
        during = len(turns) - started
        other.cancel()
        return result, during

    result, during = run_async(run())
    assert result == content
    assert during > 0
