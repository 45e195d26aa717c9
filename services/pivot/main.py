"""Running the pivot: ``run(settings)`` (``sdctl serve pivot``) and ``python -m services.pivot``.
It prints ``event=ready service=pivot pid=... http=ADDR:PORT`` once it answers, with the port
it bound."""

from __future__ import annotations

from collections.abc import Sequence

from services.pivot.app import create_app
from speeddata._webserve import serve_http, service_main
from speeddata.config import Settings


def run(settings: Settings) -> int:
    """Serves until SIGTERM/SIGINT; 0 after a clean stop, 1 when it cannot start (one
    ``event=error`` line says why)."""
    return serve_http(
        "pivot", lambda: create_app(settings), settings.pivot.bind, settings.pivot.port
    )


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(
        "pivot", "The SpeedData export service (archive ranges to files).", run, argv
    )
