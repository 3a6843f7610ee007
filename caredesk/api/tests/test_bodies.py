"""The file-part counter in front of Django's multipart parser (api/bodies.py)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caredesk.api.bodies import _FilePartCounter

BOUNDARY = b"----caredesk0123"


def _body(parts: list[tuple[bool, bytes]]) -> bytes:
    out = b""
    for i, (is_file, content) in enumerate(parts):
        head = b'Content-Disposition: form-data; name="f%d"' % i
        if is_file:
            head += b'; filename="shot%d.png"\r\nContent-Type: image/png' % i
        out += b"--" + BOUNDARY + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


# Contents may hold anything but the boundary (multipart's one rule), "filename" included.
contents = st.binary(max_size=300).map(lambda b: b + b"\r\nfilename=x\r\n\r\n")


@given(
    parts=st.lists(st.tuples(st.booleans(), contents), max_size=8),
    sizes=st.lists(st.integers(1, 97), min_size=1, max_size=20),
)
def test_it_counts_each_declared_file_once_however_the_body_is_read(parts, sizes):
    body = _body(parts)
    counter = _FilePartCounter(io.BytesIO(body), BOUNDARY)
    read, i = b"", 0
    while chunk := counter.read(sizes[i % len(sizes)]):
        read += chunk
        i += 1
    assert read == body
    assert counter.declared == sum(is_file for is_file, _ in parts)


@pytest.mark.parametrize(
    ("head", "declared"),
    [
        (b'name="attachments"; filename="shot.png"', 1),
        (b"name=attachments; filename*=UTF-8''capture%20d%C3%A9cran.png", 1),
        (b'name="attachments"; filename*0="capture "; filename*1="2.png"', 1),
        (b'name="attachments"; FILENAME = "shot.png"', 1),
        (b'name="attachments"; filename="capture d\'\xe9cran.png"', 1),  # Latin-1
        (b'name="attachments"; filename=""', 0),  # an empty file input: no file
        (b'name="filename"', 0),  # a field that happens to be called so
    ],
)
def test_it_counts_parts_that_name_a_file(head, declared):
    body = b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; " + head + b"\r\n\r\nx\r\n"
    counter = _FilePartCounter(io.BytesIO(body + b"--" + BOUNDARY + b"--\r\n"), BOUNDARY)
    while counter.read(64):
        pass
    assert counter.declared == declared
