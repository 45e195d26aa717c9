"""Running the gateway: ``run(settings)`` (``sdctl serve stripchart``) and
``python -m services.stripchart``. It prints ``event=ready service=stripchart pid=...
http=ADDR:PORT`` once it answers, with the port it bound."""

from __future__ import annotations

from collections.abc import Sequence

from services.stripchart.app import create_app
from speeddata._webserve import serve_http, service_main
from speeddata.config import Settings


def run(settings: Settings) -> int:
    """Serves until SIGTERM/SIGINT; 0 after a clean stop, 1 when it cannot start (one
    ``event=error`` line says why)."""
    s = settings.stripchart
    return serve_http("stripchart", lambda: create_app(settings), s.bind, s.port)


def main(argv: Sequence[str] | None = None) -> int:
    return service_main("stripchart", "The SpeedData stripchart gateway.", run, argv)
