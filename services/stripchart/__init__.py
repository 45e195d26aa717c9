"""The stripchart gateway: live signals to browsers over a WebSocket (proto/WS.md), and the
strip-chart pages.

``create_app(settings)`` builds the Starlette app, ``run(settings)`` serves it."""

from services.stripchart.app import create_app
from services.stripchart.main import run

__all__ = ["create_app", "run"]
