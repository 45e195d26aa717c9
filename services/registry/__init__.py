"""The channel registry: REST API over SQL channel records, published on the bus.

``create_app(settings)`` builds the Starlette app, ``run(settings)`` serves it,
``login_link(settings)`` makes the page's one-time login link."""

from services.registry.app import create_app
from services.registry.auth import load_token, login_link
from services.registry.main import run

__all__ = ["create_app", "load_token", "login_link", "run"]
