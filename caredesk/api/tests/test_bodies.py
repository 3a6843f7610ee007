"""The file-part counter in front of Django's multipart parser (api/bodies.py)."""

from __future__ import annotations

import io

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
