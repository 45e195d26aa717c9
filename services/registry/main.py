"""Running the registry: ``run(settings)`` (``sdctl serve registry``) and
``python -m services.registry``. It prints ``event=ready service=registry pid=...
http=ADDR:PORT`` once it answers, with the port it bound."""

from __future__ import annotations

from collections.abc import Sequence

from services.registry.app import create_app
from speeddata._webserve import serve_http, service_main
from speeddata.config import Settings


def run(settings: Settings) -> int:
    """Serves until SIGTERM/SIGINT; 0 after a clean stop, 1 when it cannot start (one
    ``event=error`` line says why)."""
    return serve_http(
        "registry", lambda: create_app(settings), settings.registry.bind, settings.registry.port
    )


def main(argv: Sequence[str] | None = None) -> int:
    return service_main("registry", "The SpeedData channel registry.", run, argv)
