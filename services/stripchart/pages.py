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

import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from speeddata.config import ROOT, Settings

HERE = Path(__file__).parent
PAGES_DIR = ROOT / "config" / "pages"
"""Where ``GET /pages/<name>`` finds ``<name>.html``."""
UPLOT_DIR = ROOT / "node_modules" / "uplot" / "dist"
"""uPlot's built files, served under ``/static/uplot/``."""
PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A page's name: letters, digits, ``_`` and ``-`` (no dots, no slashes: nothing outside
``config/pages/`` can be named)."""
WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

DASHBOARD_HEADERS = {
    # scripts, styles and the WebSocket only from this server, no inline code
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def service_url(request: Request, bind: str, port: int) -> str:
    """``http://host:port`` of a service on this machine as this browser can reach it: its bind
    address, or the host the browser used for this page when it listens on every address."""
    host = (request.url.hostname or "127.0.0.1") if bind in WILDCARD_BINDS else bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
        pivot = getattr(settings, "pivot", None)  # the pivot's section, once it has landed
        context = {
            "pivot_url": service_url(request, pivot.bind, pivot.port) if pivot else "",
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
        Route("/pages/{name:path}", user_page, methods=["GET"]),
        # checked when asked, not now: without `make deps` the charts say uPlot is missing
        Mount("/static/uplot", StaticFiles(directory=UPLOT_DIR, check_dir=False)),
        Mount("/static", StaticFiles(directory=HERE / "static")),
    ]
