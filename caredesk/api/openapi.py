"""What ninja's generated OpenAPI document does not say by itself, added once per process:

* errors are ``application/problem+json`` (ninja labels every response with its renderer's
  JSON type), with ``Retry-After`` on 429 and ``WWW-Authenticate`` on 401;
* bodies that may be JSON or multipart (``request_body()``: ninja types one or the other),
  with their schemas among the components;
* ``Idempotent-Replayed`` on the answers of operations that take an ``Idempotency-Key``.
"""

from __future__ import annotations

import copy
from typing import Any

import pydantic
from ninja.openapi.schema import REF_TEMPLATE
from ninja.schema import NinjaGenerateJsonSchema

from .errors import PROBLEM_CONTENT_TYPE
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import REPLAYED_HEADER

_BODIES: dict[str, tuple[type[pydantic.BaseModel], bool]] = {}


def request_body(model: type[pydantic.BaseModel], *, files: bool) -> dict[str, Any]:
    """``openapi_extra`` for an operation that reads its body with ``bodies.read_body``."""
    name = model.__name__
    _BODIES[name] = (model, files)
    content = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=name)}}}
    if files:
        content["multipart/form-data"] = {
            "schema": {"$ref": REF_TEMPLATE.format(model=f"{name}Multipart")}
        }
    return {"requestBody": {"required": True, "content": content}}


def _multipart(schema: dict[str, Any]) -> dict[str, Any]:
    """The form-data twin of a JSON body schema: no nulls (a form field is absent or a
    string), plus the files."""
    form = copy.deepcopy(schema)
    form["title"] = f"{schema.get('title', '')} (multipart)".strip()
    for prop in form.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options:
            prop.update(next(o for o in options if o.get("type") != "null"))
            prop.pop("default", None)
    form["properties"]["attachments"] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "Files (screenshots…): each at most ATTACHMENT_MAX_BYTES.",
    }
    return form


def _add_bodies(components: dict[str, Any]) -> None:
    for name, (model, files) in _BODIES.items():
        schema = model.model_json_schema(
            ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema
        )
        components.update(schema.pop("$defs", {}))
        components[name] = schema
        if files:
            components[f"{name}Multipart"] = _multipart(schema)


_HEADERS = {
    429: {
        "Retry-After": {
            "description": "Seconds until the limit resets.",
            "schema": {"type": "integer"},
        }
    },
    401: {
        "WWW-Authenticate": {
            "description": "How to authenticate (Bearer).",
            "schema": {"type": "string"},
        }
    },
}
_REPLAYED = {
    REPLAYED_HEADER: {
        "description": "true when this is the stored answer to an earlier request "
        "with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _add_bodies(components)
    schemes = schema["components"].get("securitySchemes", {})
    if "TokenAuth" in schemes:
        schemes["TokenAuth"]["bearerFormat"] = "cd_<8 characters>_<secret>"
        schemes["TokenAuth"]["description"] = "A personal access token from issueToken."
    if "SessionAuth" in schemes:
        schemes["SessionAuth"]["description"] = (
            "The web session (signed in on the site); unsafe methods need the X-CSRFToken header."
        )
    for operations in schema["paths"].values():
        for operation in operations.values():
            idempotent = any(
                p.get("name") == IDEMPOTENCY_HEADER for p in operation.get("parameters", [])
            )
            for code, response in operation["responses"].items():
                code = int(code)
                if code >= 400 and "content" in response:
                    (body,) = response["content"].values()
                    response["content"] = {PROBLEM_CONTENT_TYPE: body}
                if code in _HEADERS:
                    response["headers"] = _HEADERS[code]
                if idempotent and 200 <= code < 300:
                    response["headers"] = _REPLAYED
    return schema
