"""``WS /ws``: the Origin check, then one :class:`~services.stripchart.client.Connection`."""

from __future__ import annotations

from starlette.websockets import WebSocket

from services.stripchart.client import Connection
from services.stripchart.gateway import Gateway

POLICY_VIOLATION = 1008


async def endpoint(websocket: WebSocket) -> None:
    gateway: Gateway = websocket.app.state.gateway
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host")
    if not gateway.origins.allows(origin, host):
        await websocket.close(code=POLICY_VIOLATION)  # before accept: the server answers 403
        return
    await websocket.accept()
    connection = Connection(gateway, websocket)
    gateway.clients.add(connection)
    try:
        await connection.run()
    finally:
        gateway.clients.discard(connection)
