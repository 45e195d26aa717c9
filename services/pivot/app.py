"""``create_app(settings)``: the pivot's Starlette application. Routes live in one module per
resource (``export``, ``service``, ``tags``), each with ``routes()``; ``GET /metrics`` comes from
:func:`speeddata.metrics.instrument`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from services.pivot import export, service, tags
from services.pivot.channels import Registry
from services.pivot.context import Metrics, PivotContext
from speeddata._weberrors import HANDLERS
from speeddata.config import Settings, SettingsError
from speeddata.hdf5 import Compression, CompressionError
from speeddata.metrics import instrument


def create_app(settings: Settings) -> Starlette:
    """The pivot as an ASGI app; a setting it cannot use is a SettingsError."""
    _check(settings)
    registry = Registry(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with tags.lifespan(app):
                yield
        finally:
            registry.close()

    routes = [*export.routes(), *service.routes(), *tags.routes()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=HANDLERS,  # type: ignore[arg-type]
    )
    served = instrument(app, "pivot")
    app.router.routes.append(Route(service.BASE + "/metrics", served.endpoint, methods=["GET"]))
    app.state.pivot = PivotContext(settings=settings, registry=registry, metrics=Metrics(served))
    app.state.tags = tags.Tags(settings, registry)
    return app


def _check(settings: Settings) -> None:
    p = settings.pivot
    try:
        Compression.parse(p.compression)
    except CompressionError as e:
        raise SettingsError(f"pivot.compression: {e}") from None
    for name in ("max_channels", "max_records"):
        if p[name] < 1:
            raise SettingsError(f"pivot.{name} must be at least 1")
    if p.max_span_s <= 0 or p.registry_timeout_s <= 0:
        raise SettingsError("pivot.max_span_s and pivot.registry_timeout_s must be > 0")
