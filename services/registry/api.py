"""The registry's operations as data (path, method, models, parameters, answers) and the
OpenAPI document generated from them and from the pydantic models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.registry.models import Error

BASE = "/api/v1"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path | query
    schema: dict[str, Any]
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below BASE
    handler: Handler
    summary: str
    ok: int
    answer: type[BaseModel] | None  # None: any JSON (a schema as registered)
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    multipart: bool = False
    params: tuple[Param, ...] = ()
    extra: dict[int, type[BaseModel]] = field(default_factory=dict)
    guarded: bool | None = None  # None: every method but GET needs the token

    @property
    def mutating(self) -> bool:
        return self.method != "GET" if self.guarded is None else self.guarded


NAME = Param("name", "path", {"type": "string"}, "channel name", required=True)


def routes(operations: Sequence[Operation]) -> list[Route]:
    return [Route(BASE + op.path, op.handler, methods=[op.method]) for op in operations]


def openapi(operations: Sequence[Operation], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for op in operations:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        for model in (op.answer, *op.extra.values()):
            if model is not None:
                wanted.append((model, "serialization"))
    refs, defs = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(BASE + op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "SpeedData registry", "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


FORM_TYPES: dict[str, dict[str, Any]] = {
    "port": {"type": "integer"},
    "schema": {"type": "string", "format": "binary", "description": "an .avsc file, or a path"},
    "config": {"type": "string", "description": "the config object as JSON text"},
}


def _form(model: type[BaseModel]) -> dict[str, Any]:
    """The multipart form of a body model: its fields as form fields, the schema a file."""
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    return {
        "type": "object",
        "properties": {k: FORM_TYPES.get(k, {"type": "string"}) for k in fields},
        "required": [k for k, f in fields.items() if f.is_required()],
    }


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    answer = refs[(op.answer, "serialization")] if op.answer is not None else {}
    responses: dict[str, Any] = {str(op.ok): {"description": "done", "content": _json(answer)}}
    for status, model in op.extra.items():
        content = _json(refs[(model, "serialization")])
        responses[str(status)] = {"description": model.__doc__ or "", "content": content}
    errors = set(op.errors) | ({400, 401, 403, 413, 415, 422} if op.mutating else set())
    for status in sorted(errors - set(op.extra)):
        error = refs[(Error, "serialization")]
        responses[str(status)] = {"description": "error", "content": _json(error)}
    out: dict[str, Any] = {"summary": op.summary, "responses": responses}
    if op.params:
        out["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema,
             "description": p.doc}
            for p in op.params
        ]  # fmt: skip
    if op.body is not None:
        content = _json(refs[(op.body, "validation")])
        if op.multipart:
            content["multipart/form-data"] = {"schema": _form(op.body)}
        out["requestBody"] = {"required": True, "content": content}
    if op.mutating:
        out["security"] = [{"bearer": []}]
    return out
