"""Channel records as the API and the bus show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic_core import to_json
from starlette.responses import JSONResponse

from services.registry.db import ChannelRow, SchemaVersionRow
from services.registry.live import Live, View


def iso(ns: int | None) -> str | None:
    """ISO 8601 UTC with microseconds, or None."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


class FastJSON(JSONResponse):
    """JSON by pydantic-core's serializer: several times faster than ``json.dumps`` on the
    list of a thousand channels."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


@lru_cache(maxsize=4096)
def parsed(text: str) -> Any:
    """A stored schema text as JSON (shared: callers only read it)."""
    return json.loads(text)


def channel(row: ChannelRow, live: Live) -> dict[str, Any]:
    return {**stored(row), **heard(live.view(row.name, row.updated_ns))}


def stored(row: ChannelRow) -> dict[str, Any]:
    """The part of a channel record that is in the database."""
    return {
        "name": row.name,
        "port": row.port,
        "schema": parsed(row.schema_text),
        "schema_path": row.schema_path,
        "schema_version": row.schema_version,
        "fingerprint": row.fingerprint,
        "time_field": row.time_field,
        "time_unit": row.time_unit,
        "config": row.config,
        "multicast": {"full": row.mcast_full, "decimated": row.mcast_dec},
        "created_at": iso(row.created_ns),
        "updated_at": iso(row.updated_ns),
    }


def heard(seen: View) -> dict[str, Any]:
    """The part of a channel record heard on the bus."""
    return {
        "status": seen.status,
        "last_heartbeat": iso(seen.heartbeat_ns),
        "last_error": seen.last_error,
        "counters": seen.counters,
    }


def version(row: SchemaVersionRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "fingerprint": row.fingerprint,
        "schema": parsed(row.schema_text),
        "created_at": iso(row.created_ns),
    }


def summary(row: ChannelRow, live: Live) -> dict[str, Any]:
    """A channel as ``registry.snapshot`` lists it."""
    return {
        "name": row.name,
        "port": row.port,
        "fingerprint": row.fingerprint,
        "mcast_full": row.mcast_full,
        "mcast_dec": row.mcast_dec,
        "status": live.view(row.name, row.updated_ns).status,
    }
