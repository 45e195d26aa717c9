"""Reading request bodies: the size cap (413), the content types (415), JSON or a multipart
form into a model, and pydantic's complaints into the contract's 400 (malformed: not JSON,
wrong types, missing fields) or 422 (well-formed but invalid)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.registry.errors import ApiError, error_response

M = TypeVar("M", bound=BaseModel)

INVALID_KINDS = frozenset(
    {
        "string_pattern_mismatch",
        "literal_error",
        "extra_forbidden",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "string_too_long",
        "string_too_short",
    }
)
"""pydantic error types that mean "well-formed but invalid" (422); the others mean malformed."""

FORM_FIELDS = ("name", "port", "schema", "config", "time_field", "time_unit")
MAX_DEPTH = 256
"""Deepest JSON nesting accepted: a schema at the relay's limit (64 nested records) is ~200."""


def parse_json(raw: bytes | str, what: str, status: int = 400, code: str = "malformed") -> Any:
    """JSON text as data; :class:`ApiError` when it is not JSON or nests deeper than
    :data:`MAX_DEPTH` (checked without recursion, so nothing later recurses too deep)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(status, code, f"{what} is not JSON: {e}") from None
    except RecursionError:
        raise ApiError(422, "too_deep", f"{what} nests deeper than {MAX_DEPTH} levels") from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(422, "too_deep", f"{what} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused with 413, by its
    Content-Length at once, else as soon as more arrives than allowed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.limit:
            response = error_response(413, "too_large", self._detail())
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, "too_large", self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.limit} bytes"


def validation_error(e: ValidationError) -> ApiError:
    """The first complaint of pydantic as a 400 or 422, naming the field."""
    first = e.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    kind = first["type"]
    if kind in INVALID_KINDS or first["loc"][:1] == ("config",):
        return ApiError(422, "invalid", f"{where}: {first['msg']}", field=where)
    return ApiError(400, "malformed", f"{where}: {first['msg']}", field=where)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def json_body(request: Request, model: type[M]) -> M:
    media = _media_type(request)
    if not _is_json(media):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send application/json, not {media or 'no content type'}",
        )
    return validated(model, parse_json(await request.body(), "the body"))


def validated(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None


async def json_or_form(request: Request, model: type[M]) -> M:
    """A body sent as JSON, or as multipart/form-data with the fields and a ``schema`` file
    (or a ``schema`` field: a config/ path or the schema's JSON text)."""
    media = _media_type(request)
    if media != "multipart/form-data":
        return await json_body(request, model)
    data: dict[str, Any] = {}
    limit = request.app.state.settings.registry.max_body_bytes
    fields = len(FORM_FIELDS) + 1
    async with request.form(max_files=1, max_fields=fields, max_part_size=limit) as form:
        for key, value in form.multi_items():
            if key not in FORM_FIELDS:
                raise ApiError(422, "invalid", f"unknown form field {key!r}", field=key)
            if isinstance(value, UploadFile):
                data[key] = _uploaded_schema(key, await value.read())
            else:
                data[key] = _form_value(key, value)
    return validated(model, data)


def _uploaded_schema(key: str, content: bytes) -> Any:
    if key != "schema":
        raise ApiError(422, "invalid", f"{key}: only the schema may be a file", field=key)
    schema = parse_json(content, "the schema file", 422, "invalid_schema")
    if not isinstance(schema, dict):
        raise ApiError(422, "invalid_schema", "a channel schema must be an Avro record", field=key)
    return schema


def _form_value(key: str, value: str) -> Any:
    if key == "port":
        try:
            return int(value)
        except ValueError:
            raise ApiError(
                400, "malformed", f"port: {value!r} is not an integer", field="port"
            ) from None
    if key == "config" or (key == "schema" and value.lstrip().startswith("{")):
        return parse_json(value, key) if value.strip() else None
    return value
