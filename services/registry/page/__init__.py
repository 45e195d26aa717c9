"""The registration page at ``GET /``: a Jinja2 template (autoescaped) and its static script
and style. The page reads and changes channels through the REST API with ``fetch`` from the
same origin; the server only tells it whether this browser may change anything (the login
cookie, see :mod:`services.registry.auth`). User data reaches the DOM as text only."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from services.registry.api import BASE
from services.registry.context import ctx

HERE = Path(__file__).parent
REFRESH_MS = 3000
"""How often the page reads the channel list again."""

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

HEADERS = {
    # scripts and styles only from this server, no inline code, requests only to it
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def index(request: Request) -> Response:
    guard = ctx(request).guard
    context = {
        "api": BASE,
        "can_write": guard.signed_in(request),
        "auth_open": guard.open,
        "refresh_ms": REFRESH_MS,
    }
    response = TEMPLATES.TemplateResponse(request, "index.html", context)
    response.headers.update(HEADERS)
    return response


def routes() -> list[BaseRoute]:
    """``/`` and the page's static files under ``/static``."""
    return [
        Route("/", index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
