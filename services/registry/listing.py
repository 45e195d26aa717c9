"""``GET /channels`` for a thousand channels: the stored part of each channel record (schema,
config, endpoints, times) is built once per change of its row, not on every request. A request
reads only each row's ``(id, name, updated_ns)``, loads the rows that changed since the last
request, and adds what was heard on the bus (status, heartbeat, counters)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.registry import views
from services.registry.db import ChannelRow, Database
from services.registry.live import Live

LOAD_CHUNK = 500
"""Rows loaded per ``IN (...)`` query (well under every database's parameter limit)."""


class ChannelListing:
    """Thread-safe: each call builds a new cache and swaps it in whole."""

    def __init__(self) -> None:
        self._stored: dict[int, tuple[int, dict[str, Any]]] = {}

    def channels(self, db: Database, live: Live) -> list[dict[str, Any]]:
        """Every channel record, by name."""
        known = self._stored
        with db.reading() as session:
            keys = session.execute(
                select(ChannelRow.id, ChannelRow.name, ChannelRow.updated_ns).order_by(
                    ChannelRow.name
                )
            ).all()
            stale = [id_ for id_, _, updated in keys if known.get(id_, (None,))[0] != updated]
            loaded = {}
            for start in range(0, len(stale), LOAD_CHUNK):
                chunk = stale[start : start + LOAD_CHUNK]
                for row in session.scalars(select(ChannelRow).where(ChannelRow.id.in_(chunk))):
                    loaded[row.id] = (row.updated_ns, views.stored(row))
        current: dict[int, tuple[int, dict[str, Any]]] = {}
        shown: list[tuple[str, tuple[int, dict[str, Any]]]] = []
        for id_, name, _ in keys:
            entry = loaded.get(id_) or (None if id_ in stale else known.get(id_))
            if entry is not None:  # else removed between the two reads
                current[id_] = entry
                shown.append((name, entry))
        self._stored = current
        heard = live.views([(name, updated) for name, (updated, _) in shown])
        return [
            {**stored, **views.heard(seen)}
            for (_, (_, stored)), seen in zip(shown, heard, strict=True)
        ]
