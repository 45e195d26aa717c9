"""The gateway's pages: ``GET /`` the dashboard, ``GET /pages/<name>`` the pages users write
(``config/pages/<name>.html``, with the original SpeedData attributes), and ``/static/...``:
the charts' script and style, and uPlot's files from ``node_modules/`` (``make deps`` installs
them from the npm registry as package-lock.json says; nothing of uPlot is in the repo).

The dashboard is a Jinja2 template (autoescaped) under a strict Content-Security-Policy: its
scripts and styles come from this server only, its WebSocket goes to this server only. A user's
page is served as written (it is the user's own HTML), with ``nosniff`` and no caching."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.stripchart import tagproxy
from speeddata._webpages import common_static, page_headers, page_templates, service_url
from speeddata.config import ROOT, Settings

HERE = Path(__file__).parent
PAGES_DIR = ROOT / "config" / "pages"
"""Where ``GET /pages/<name>`` finds ``<name>.html``."""
UPLOT_DIR = ROOT / "node_modules" / "uplot" / "dist"
"""uPlot's built files, served under ``/static/uplot/``."""
PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A page's name: letters, digits, ``_`` and ``-`` (no dots, no slashes: nothing outside
``config/pages/`` can be named)."""
TEMPLATES = page_templates(HERE / "templates")

DASHBOARD_HEADERS = page_headers(images="data:")
"""Scripts, styles and the WebSocket only from this server, no inline code."""
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def not_found(detail: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": detail}, status_code=404)


def page_names() -> list[str]:
    """The pages under ``config/pages/``, by name."""
    if not PAGES_DIR.is_dir():
        return []
    return sorted(p.stem for p in PAGES_DIR.glob("*.html") if PAGE_NAME.fullmatch(p.stem))


def routes(settings: Settings) -> list[BaseRoute]:
    """``/``, ``/pages/<name>`` and ``/static`` (uPlot's files under ``/static/uplot``)."""

    async def dashboard(request: Request) -> Response:
        pivot = settings.pivot
        context = {
            "pivot_url": service_url(request, pivot.bind, pivot.port),
            "pages": page_names(),
        }
        response = TEMPLATES.TemplateResponse(request, "dashboard.html", context)
        response.headers.update(DASHBOARD_HEADERS)
        return response

    async def user_page(request: Request) -> Response:
        name = str(request.path_params["name"]).removesuffix(".html")
        if not PAGE_NAME.fullmatch(name):
            return not_found("a page name is letters, digits, _ and - (config/pages/<name>.html)")
        path = PAGES_DIR / f"{name}.html"
        if not path.is_file():
            return not_found(f"no page {name!r}: config/pages/{name}.html does not exist")
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    return [
        Route("/", dashboard, methods=["GET"]),
        *tagproxy.routes(settings),  # the dashboard's "tag this range"
        Route("/pages/{name:path}", user_page, methods=["GET"]),
        # checked when asked, not now: without `make deps` the charts say uPlot is missing
        Mount("/static/uplot", StaticFiles(directory=UPLOT_DIR, check_dir=False)),
        common_static(),
        Mount("/static", StaticFiles(directory=HERE / "static")),
    ]
