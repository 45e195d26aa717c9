"""``create_app(settings)``: the registry's Starlette application. Its lifespan migrates and
opens the database, seeds an empty registry from the YAML baseline once, and runs the bus
threads (see :mod:`services.registry.busio`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import zmq
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.registry import api, channels, migrate, page, service, store
from services.registry.auth import Guard, load_token
from services.registry.bodies import BodyLimit
from services.registry.busio import BusLink
from services.registry.context import Context
from services.registry.db import Database, database_url
from services.registry.errors import HANDLERS
from services.registry.live import Live
from services.registry.metrics import RegistryCollector
from speeddata.bus import bus_options
from speeddata.config import Settings, SettingsError
from speeddata.metrics import instrument

log = logging.getLogger("services.registry")
VERSION = "1"
OPERATIONS = (*channels.OPERATIONS, *service.OPERATIONS)
AUTH_MODES = ("token", "none")


def create_app(settings: Settings) -> Starlette:
    """The registry as an ASGI app; nothing happens until its lifespan starts."""
    if settings.registry.auth not in AUTH_MODES:
        raise SettingsError(f"registry.auth must be one of {', '.join(AUTH_MODES)}")
    bus_options(settings)  # a bad bus setting stops the start, not the bus threads later

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        context = await anyio.to_thread.run_sync(_open, settings)
        zmq_context = zmq.Context()
        bus = BusLink(settings, context.live, lambda: store.rows(context.db), zmq_context)
        context.bus = bus
        app.state.registry = context
        bus.start()
        for change in context.seeded:
            bus.changed(change)
        try:
            yield
        finally:
            bus.stop()
            zmq_context.destroy(linger=0)
            context.db.close()

    routes = [
        *api.routes(OPERATIONS),
        Route(api.BASE + "/openapi.json", service.openapi_json, methods=["GET"]),
        Route("/health", service.health, methods=["GET"]),
        Route("/login", service.login, methods=["GET"]),
        *page.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, limit=settings.registry.max_body_bytes)],
        exception_handlers=HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.openapi = api.openapi(OPERATIONS, VERSION)
    served = instrument(
        app, "registry", RegistryCollector(lambda: getattr(app.state, "registry", None))
    )
    app.router.routes.insert(1, Route(api.BASE + "/metrics", served.endpoint, methods=["GET"]))
    return app


def _open(settings: Settings) -> Context:
    """The database migrated and seeded, the token, and the heard state (in a worker thread:
    all of it blocks)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url(settings))
    try:
        migrate.upgrade(db.engine)
        seeded, problems = store.seed(db, settings)
    except BaseException:
        db.close()
        raise
    for problem in problems:
        log.warning("not seeded: %s", problem)
    token = load_token(settings)
    live = Live(settings.registry.stale_s)
    context = Context(
        settings=settings, db=db, live=live, guard=Guard(settings, token), token=token
    )
    context.seeded = seeded
    return context
