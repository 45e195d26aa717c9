"""``create_app(settings)``: the gateway's Starlette application.

Routes: ``WS /ws`` (proto/WS.md), ``GET /health``, ``GET /metrics`` (Prometheus), and the
pages. The pages (``GET /``, ``/pages/<name>``, ``/static/...``) are the routes of
``services.stripchart.pages.routes(settings)``, a module of its own; the app mounts them when
that module is there. Its lifespan runs the :class:`~services.stripchart.gateway.Gateway`
(registry watch, record sources, frame loop, status), kept in ``app.state.gateway``."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route, WebSocketRoute

from services.stripchart import service, ws
from services.stripchart.gateway import Gateway
from speeddata.config import Settings
from speeddata.metrics import instrument

PAGES_MODULE = "services.stripchart.pages"


def create_app(settings: Settings) -> Starlette:
    """The gateway as an ASGI app; nothing runs until its lifespan starts."""
    gateway = Gateway(settings)  # checks the settings: a bad one stops the start here

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    routes: list[BaseRoute] = [
        WebSocketRoute("/ws", ws.endpoint),
        Route("/health", service.health, methods=["GET"]),
        *page_routes(settings),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.gateway = gateway
    instrument(app, "stripchart", service.GatewayCollector(gateway))
    return app


def page_routes(settings: Settings) -> list[BaseRoute]:
    """The pages' routes, from their own module when it is installed."""
    if importlib.util.find_spec(PAGES_MODULE) is None:
        return []
    return list(importlib.import_module(PAGES_MODULE).routes(settings))
