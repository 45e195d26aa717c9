"""What the services' HTML pages share: their Jinja2 templates (autoescaped, strict about
undefined names), security headers, the address of another service as the visitor's browser
reaches it, and the static files every page uses (``static/``: the colors of the light and
dark themes and the theme toggle), served by each service under ``/static/common``."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")
STATIC = Path(__file__).parent / "static"


def common_static() -> Mount:
    """``/static/common``: the pages' shared files (mounted before the service's ``/static``)."""
    return Mount("/static/common", app=StaticFiles(directory=STATIC))


def page_templates(directory: Path) -> Jinja2Templates:
    """The templates under ``directory``: user data is escaped, a missing name is an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return Jinja2Templates(env=env)


def service_url(request: Request, bind: str, port: int) -> str:
    """``http://host:port`` of a service on this machine as this browser can reach it: its bind
    address, or the host the browser used for this page when it listens on every address."""
    host = (request.url.hostname or "127.0.0.1") if bind in WILDCARD_BINDS else bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def page_headers(*, scripts: str = "", connect: str = "", images: str = "") -> dict[str, str]:
    """A page's security headers: scripts, styles and images from its own server only (plus the
    sources given), requests to it only (plus ``connect``), no inline code, no framing, no
    caching."""
    sources = {"script-src": scripts, "style-src": "", "img-src": images, "connect-src": connect}
    allowed = "; ".join(f"{key} 'self' {more}".rstrip() for key, more in sources.items())
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; {allowed}; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
