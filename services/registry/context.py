"""What every handler reaches through ``request.app.state``: set up by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from services.registry.auth import Guard
from services.registry.busio import BusLink
from services.registry.db import Database
from services.registry.errors import ApiError
from services.registry.listing import ChannelListing
from services.registry.live import Live
from services.registry.store import Change
from speeddata.config import Settings


@dataclass
class Context:
    settings: Settings
    db: Database
    live: Live
    guard: Guard
    token: str
    bus: BusLink | None = None
    seeded: list[Change] = field(default_factory=list)
    listing: ChannelListing = field(default_factory=ChannelListing)


def ctx(request: Request) -> Context:
    found: Any = request.app.state.registry
    return found  # type: ignore[no-any-return]


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "malformed", f"{name}: {raw!r} is not an integer", field=name) from None


def query_bool(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "false").lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no", ""):
        return False
    raise ApiError(400, "malformed", f"{name}: {raw!r} is not true or false", field=name)
