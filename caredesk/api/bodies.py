"""Bodies that come as JSON or as multipart (with files), validated by one schema.

ninja types a body as either JSON or form data; ticket creation and replies accept both
(JSON for text only, multipart when there are attachments), so they read the body here:
the same pydantic schema validates either, errors come out in ninja's format (422), and
each body gets a fingerprint for the idempotency check — the SHA-256 of the method, the
path and the content: canonical JSON, or the form fields and each file's name, type, size
and SHA-256 (never the multipart bytes, whose boundary changes on every retry).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.utils.http import parse_header_parameters
from ninja.errors import ValidationError
from pydantic import AfterValidator, StringConstraints

from .errors import ApiProblem

FILES_FIELD = "attachments"


@dataclass
class Body[T: pydantic.BaseModel]:
    data: T
    uploads: list[UploadedFile]
    fingerprint: str


def fingerprint(request: HttpRequest, content: Any) -> str:
    """SHA-256 of method, path and a JSON-serializable view of the content."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{canonical}".encode()).hexdigest()


def _file_digest(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _validate[T: pydantic.BaseModel](model: type[T], data: dict, source: str) -> T:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                {"loc": [source, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None


def read_body[T: pydantic.BaseModel](request: HttpRequest, model: type[T]) -> Body[T]:
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        return _read_json(request, model)
    if content_type == "multipart/form-data":
        return _read_multipart(request, model)
    raise ApiProblem(
        415, "Send the body as application/json, or as multipart/form-data with files."
    )


def _read_json[T: pydantic.BaseModel](request: HttpRequest, model: type[T]) -> Body[T]:
    if len(request.body) > settings.API_JSON_MAX_BYTES:
        raise ApiProblem(413, f"A JSON body may be at most {settings.API_JSON_MAX_BYTES} bytes.")
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "The body is not valid JSON.") from None
    except RecursionError:  # arrays nested deeper than any request of ours needs
        raise ApiProblem(400, "The body's JSON is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ValidationError(
            [{"loc": ["body"], "msg": "The body must be a JSON object.", "type": "dict_type"}]
        )
    return Body(_validate(model, data, "body"), [], fingerprint(request, {"json": data}))


def _names_a_file(headers: bytes) -> bool:
    """Whether a part's header block names a file, read as Django's parser reads it (its
    ``parse_header_parameters`` on the Content-Disposition line: RFC 2231 continuations
    included; an empty name is an empty file input, no file). A line Django cannot
    decode, it skips with its file: counted, if it mentions a filename at all."""
    for line in headers.split(b"\r\n"):
        if not line.lower().startswith(b"content-disposition:"):
            continue
        try:
            _, params = parse_header_parameters(line.decode())
        except ValueError:  # UnicodeDecodeError included
            return b"filename" in line.lower()
        return bool(params.get("filename"))
    return False


class _FilePartCounter:
    """The request's body stream, read through by Django's multipart parser, counting
    the file parts the body declares on the way (a part whose headers name a filename).

    Django's parser skips a file part it cannot take without a word: headers that are
    not UTF-8 (RFC 7578 asks for UTF-8; some clients send Latin-1), a name that is
    nothing once cleaned (".."). The ticket would be created without the screenshot and
    a 201 say all is well. Counting what was declared lets the request be refused
    instead, with nothing created. Part headers longer than ``HEADERS_MAX`` are not
    counted (a missed count refuses nothing)."""

    HEADERS_MAX = 8192

    def __init__(self, stream, boundary: bytes) -> None:
        self._stream = stream
        self._delimiter = b"\r\n--" + boundary
        self._window = len(self._delimiter) + self.HEADERS_MAX
        self._pending = b"\r\n"  # the first delimiter of a body has no line end before it
        self.declared = 0

    def read(self, *args) -> bytes:
        chunk = self._stream.read(*args)
        self._count(chunk)
        return chunk

    def readline(self, *args) -> bytes:
        line = self._stream.readline(*args)
        self._count(line)
        return line

    def _count(self, chunk: bytes) -> None:
        data, done = self._pending + chunk, 0
        while (start := data.find(self._delimiter, done)) >= 0:
            end = data.find(b"\r\n\r\n", start)
            if end < 0:
                break  # its headers go on in the next chunk
            if _names_a_file(data[start:end]):
                self.declared += 1
            done = end + 4
        self._pending = data[max(done, len(data) - self._window) :]


def _counting_file_parts(request: HttpRequest) -> _FilePartCounter | None:
    """Put a counter in front of the body, unless it was parsed already (a session's
    CSRF check reads the form first: our own pages, whose browsers send UTF-8)."""
    boundary = request.content_params.get("boundary", "")
    if hasattr(request, "_post") or not boundary:
        return None
    counter = _FilePartCounter(request._stream, boundary.encode("latin-1", "replace"))
    request._stream = counter
    return counter


def _read_multipart[T: pydantic.BaseModel](request: HttpRequest, model: type[T]) -> Body[T]:
    counter = _counting_file_parts(request)
    fields = {key: request.POST.getlist(key) for key in request.POST}
    received = sum(len(request.FILES.getlist(name)) for name in request.FILES)
    if counter is not None and counter.declared > received:
        lost = counter.declared - received
        raise ApiProblem(
            400,
            f"{lost} of the {counter.declared} files sent could not be read: a file part's "
            "headers must be UTF-8, and its name a real one (not “..”). Nothing was created.",
        )
    # An empty form field means "not given" (browsers send every field of a form).
    data = {
        key: values[-1]
        for key, values in fields.items()
        if key in model.model_fields and values[-1] != ""
    }
    uploads = request.FILES.getlist(FILES_FIELD)
    files = {
        name: [
            (f.name, f.content_type, f.size, _file_digest(f)) for f in request.FILES.getlist(name)
        ]
        for name in request.FILES
    }
    return Body(
        _validate(model, data, "body"),
        list(uploads),
        fingerprint(request, {"form": fields, "files": files}),
    )


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("The text is not valid Unicode.") from None
    return value


def text(max_length: int, *, min_length: int = 0) -> Any:
    """A text field: stripped, no NUL (PostgreSQL cannot store it), valid UTF-8."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=min_length,
            max_length=max_length,
            pattern=r"^[^\x00]*$",
        ),
        AfterValidator(_encodable),
    ]
