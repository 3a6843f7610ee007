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


def _read_multipart[T: pydantic.BaseModel](request: HttpRequest, model: type[T]) -> Body[T]:
    fields = {key: request.POST.getlist(key) for key in request.POST}
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
