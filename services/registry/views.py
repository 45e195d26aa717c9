"""Channel records as the API and the bus show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.registry.db import ChannelRow, SchemaVersionRow
from services.registry.live import Live


def iso(ns: int | None) -> str | None:
    """ISO 8601 UTC with microseconds, or None."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


def channel(row: ChannelRow, live: Live) -> dict[str, Any]:
    seen = live.view(row.name, row.updated_ns)
    return {
        "name": row.name,
        "port": row.port,
        "schema": json.loads(row.schema_text),
        "schema_path": row.schema_path,
        "schema_version": row.schema_version,
        "fingerprint": row.fingerprint,
        "time_field": row.time_field,
        "time_unit": row.time_unit,
        "config": row.config,
        "multicast": {"full": row.mcast_full, "decimated": row.mcast_dec},
        "status": seen.status,
        "last_heartbeat": iso(seen.heartbeat_ns),
        "last_error": seen.last_error,
        "counters": seen.counters,
        "created_at": iso(row.created_ns),
        "updated_at": iso(row.updated_ns),
    }


def version(row: SchemaVersionRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "fingerprint": row.fingerprint,
        "schema": json.loads(row.schema_text),
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
