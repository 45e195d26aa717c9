"""``GET /api/v1/health`` (and ``/health``). ``GET /metrics`` is mounted by
:func:`speeddata.metrics.instrument` (see :mod:`services.pivot.app`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.pivot.context import context
from speeddata import __version__

BASE = "/api/v1"


def routes() -> list[BaseRoute]:
    return [
        Route(BASE + "/health", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]


async def health(request: Request) -> Response:
    ctx = context(request)
    return JSONResponse(
        {"status": "ok", "service": "pivot", "version": __version__,
         "data_dir": str(ctx.settings.data_dir)}
    )  # fmt: skip
