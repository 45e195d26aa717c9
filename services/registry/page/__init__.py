"""The registration page at ``GET /``: a Jinja2 template (autoescaped) and its static script
and style. The page reads and changes channels through the REST API with ``fetch`` from the
same origin; the server only tells it whether this browser may change anything (the login
cookie, see :mod:`services.registry.auth`). User data reaches the DOM as text only. Each
channel's latest values come from the stripchart gateway: the page loads its script, which
fills the ``data-value`` cells through the gateway's WebSocket."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.registry.api import BASE
from services.registry.context import ctx
from speeddata._webpages import common_static, page_headers, page_templates, service_url

HERE = Path(__file__).parent
REFRESH_MS = 3000
"""How often the page reads the channel list again."""

TEMPLATES = page_templates(HERE / "templates")
HEADERS = page_headers()


def gateway_url(request: Request) -> str:
    """The stripchart gateway's address as this browser reaches it ("" without its settings):
    the page shows each channel's latest values through its WebSocket."""
    section = getattr(ctx(request).settings, "stripchart", None)
    return service_url(request, section.bind, section.port) if section else ""


async def index(request: Request) -> Response:
    guard = ctx(request).guard
    gateway = gateway_url(request)
    context = {
        "api": BASE,
        "can_write": guard.signed_in(request),
        "auth_open": guard.open,
        "refresh_ms": REFRESH_MS,
        "stripchart": gateway,
    }
    response = TEMPLATES.TemplateResponse(request, "index.html", context)
    ws = gateway.replace("http", "ws", 1)
    response.headers.update(page_headers(scripts=gateway, connect=ws) if gateway else HEADERS)
    return response


def routes() -> list[BaseRoute]:
    """``/`` and the page's static files under ``/static`` (the pages' shared ones under
    ``/static/common``)."""
    return [
        Route("/", index, methods=["GET"]),
        common_static(),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
