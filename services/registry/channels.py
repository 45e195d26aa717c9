"""``/channels``: list, register, read, change and remove channels, and their schemas."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.registry import store, views
from services.registry.api import NAME, Operation, Param
from services.registry.bodies import json_body, json_or_form
from services.registry.context import Context, ctx, query_bool
from services.registry.errors import ApiError
from services.registry.models import (
    Channel,
    ChannelCreate,
    ChannelDone,
    ChannelList,
    ChannelPatch,
    ChannelRemoved,
    SchemaBody,
    SchemaVerdict,
    SchemaVersions,
)
from services.registry.schemas import incompatibilities, judge

STATUSES = ("starting", "active", "failed", "stopped")


def _done(c: Context, change: store.Change, message: str) -> dict[str, Any]:
    if c.bus is not None:
        c.bus.changed(change)
    row = change.row
    return {
        "status": "success",
        "name": row.name,
        "port": row.port,
        "message": message,
        "channel": views.channel(row, c.live),
    }


async def list_channels(request: Request) -> Response:
    c = ctx(request)
    wanted = request.query_params.get("status")
    if wanted is not None and wanted not in STATUSES:
        raise ApiError(422, "invalid", f"status must be one of {', '.join(STATUSES)}")
    shown = await run_in_threadpool(c.listing.channels, c.db, c.live)
    return views.FastJSON({"channels": [s for s in shown if wanted in (None, s["status"])]})


async def create_channel(request: Request) -> Response:
    c = ctx(request)
    c.guard.check(request)
    body = await json_or_form(request, ChannelCreate)
    change = await run_in_threadpool(store.create, c.db, c.settings, body)
    return JSONResponse(_done(c, change, f"channel {body.name!r} registered"), 201)


async def get_channel(request: Request) -> Response:
    c = ctx(request)
    row = await run_in_threadpool(store.get, c.db, request.path_params["name"])
    return JSONResponse(views.channel(row, c.live))


async def patch_channel(request: Request) -> Response:
    c = ctx(request)
    c.guard.check(request)
    force = query_bool(request, "force")
    body = await json_or_form(request, ChannelPatch)
    name = request.path_params["name"]
    change = await run_in_threadpool(store.update, c.db, c.settings, name, body, force)
    what = ", ".join(change.changes) or "nothing"
    return JSONResponse(_done(c, change, f"channel {name!r} updated: {what}"))


async def delete_channel(request: Request) -> Response:
    c = ctx(request)
    c.guard.check(request)
    change = await run_in_threadpool(store.delete, c.db, request.path_params["name"])
    if c.bus is not None:
        c.bus.changed(change)
    row = change.row
    message = f"channel {row.name!r} removed (its archive stays)"
    return JSONResponse(
        {"status": "success", "name": row.name, "port": row.port, "message": message}
    )


async def get_schema(request: Request) -> Response:
    row = await run_in_threadpool(store.get, ctx(request).db, request.path_params["name"])
    return JSONResponse(json.loads(row.schema_text))


async def list_schemas(request: Request) -> Response:
    name = request.path_params["name"]
    rows = await run_in_threadpool(store.versions, ctx(request).db, name)
    return JSONResponse({"name": name, "versions": [views.version(r) for r in rows]})


async def validate_schema(request: Request) -> Response:
    c = ctx(request)
    body = await json_body(request, SchemaBody)
    row = await run_in_threadpool(store.get, c.db, request.path_params["name"])

    def verdict() -> dict[str, Any]:
        try:
            judged = judge(body.schema_, row.time_field, None, c.settings)
        except ApiError as e:
            e.extra["valid"] = False
            raise
        problems = incompatibilities(judged.schema, json.loads(row.schema_text))
        if problems:
            field, why = problems[0]
            raise ApiError(
                409, "incompatible_schema", f"{field or 'record'}: {why}", valid=False,
                compatible=False, field=field, fingerprint=judged.fingerprint,
            )  # fmt: skip
        same = judged.fingerprint == row.fingerprint
        return {"valid": True, "compatible": True, "fingerprint": judged.fingerprint, "same": same}

    return JSONResponse(await run_in_threadpool(verdict))


STATUS_PARAM = Param(
    "status", "query", {"type": "string", "enum": list(STATUSES)}, "only channels in this status"
)
FORCE = Param("force", "query", {"type": "boolean"}, "register a schema that cannot read the old")

OPERATIONS = (
    Operation("GET", "/channels", list_channels, "Every channel", 200, ChannelList, (400, 422),
              params=(STATUS_PARAM,)),
    Operation("POST", "/channels", create_channel, "Register a channel", 201, ChannelDone,
              (409,), body=ChannelCreate, multipart=True),
    Operation("GET", "/channels/{name}", get_channel, "One channel", 200, Channel, (404,),
              params=(NAME,)),
    Operation("PATCH", "/channels/{name}", patch_channel, "Change a channel", 200, ChannelDone,
              (404, 409), body=ChannelPatch, multipart=True, params=(NAME, FORCE)),
    Operation("DELETE", "/channels/{name}", delete_channel, "Remove a channel", 200,
              ChannelRemoved, (404, 409), params=(NAME,)),
    Operation("GET", "/channels/{name}/schema", get_schema, "The channel's schema", 200, None,
              (404,), params=(NAME,)),
    Operation("POST", "/channels/{name}/validate-schema", validate_schema,
              "Would this schema be accepted as the channel's next version?", 200, SchemaVerdict,
              (400, 404, 409, 413, 415, 422), body=SchemaBody, params=(NAME,), guarded=False),
    Operation("GET", "/channels/{name}/schemas", list_schemas, "The channel's schema versions",
              200, SchemaVersions, (404,), params=(NAME,)),
)  # fmt: skip
