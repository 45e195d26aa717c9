"""The registry's other endpoints: free ports, health, the OpenAPI document and the
page's one-time login."""

from __future__ import annotations

import time

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from services.registry import store
from services.registry.api import Operation, Param
from services.registry.auth import COOKIE, login_nonce, session_cookie
from services.registry.context import ctx, query_int
from services.registry.db import UsedLoginRow
from services.registry.errors import ApiError
from services.registry.models import Health, PortsAvailable, PortStatus


async def ports_available(request: Request) -> Response:
    c = ctx(request)
    low, high = c.settings.ports.start, c.settings.ports.end - 1
    start, end = query_int(request, "start", low), query_int(request, "end", high)
    if start > end:
        raise ApiError(422, "invalid", f"start {start} is after end {end}", field="start")
    lo, hi = max(start, low), min(end, high)
    taken = await run_in_threadpool(store.port_holders, c.db, lo, hi) if lo <= hi else {}
    free = [p for p in range(lo, hi + 1) if p not in taken]
    return JSONResponse(
        {"range": {"start": start, "end": end}, "available": free, "count": len(free)}
    )


async def port_status(request: Request) -> Response:
    c = ctx(request)
    raw = request.path_params["port"]
    try:
        port = int(raw)
    except ValueError:
        raise ApiError(400, "malformed", f"port {raw!r} is not an integer", field="port") from None
    store.check_port(port, c.settings)
    holder = (await run_in_threadpool(store.port_holders, c.db, port, port)).get(port)
    if holder is None:
        return JSONResponse({"port": port, "available": True, "status": "free", "channel": None})
    return JSONResponse({"port": port, "available": False, "status": "in_use", "channel": holder})


async def health(request: Request) -> Response:
    c = ctx(request)
    rows = await run_in_threadpool(store.rows, c.db)
    return JSONResponse(
        {"status": "ok", "service": "registry", "channels": len(rows), "database": c.db.dialect}
    )


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def login(request: Request) -> Response:
    """Opens the page for a browser that holds a one-time login link."""
    c = ctx(request)
    secret = request.query_params.get("token", "")
    nonce = login_nonce(c.token, secret, c.settings.registry.login_ttl_s)
    if nonce is None:
        raise ApiError(401, "unauthorized", "this login link is not valid (or too old)")

    def spend() -> bool:
        now = time.time_ns()
        expired = now - (c.settings.registry.login_ttl_s + 60) * 1_000_000_000
        try:
            with c.db.writing() as session:  # links past their age are refused anyway
                session.execute(delete(UsedLoginRow).where(UsedLoginRow.used_ns < expired))
                session.add(UsedLoginRow(nonce=nonce, used_ns=now))
        except IntegrityError:
            return False
        return True

    if not await run_in_threadpool(spend):
        raise ApiError(401, "unauthorized", "this login link was used already")
    response = RedirectResponse("/", 303)
    response.set_cookie(
        COOKIE,
        session_cookie(c.token),
        max_age=c.settings.registry.session_ttl_s,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


START = Param("start", "query", {"type": "integer"}, "first port (default: the range's first)")
END = Param("end", "query", {"type": "integer"}, "last port, inclusive (default: the last)")
PORT = Param("port", "path", {"type": "integer"}, "a channel port", required=True)

OPERATIONS = (
    Operation("GET", "/ports/available", ports_available, "Free channel ports of [start, end]",
              200, PortsAvailable, (400, 422), params=(START, END)),
    Operation("GET", "/ports/{port}/status", port_status, "Is this port free?", 200, PortStatus,
              (400, 422), params=(PORT,)),
    Operation("GET", "/health", health, "The registry answers", 200, Health),
)  # fmt: skip
