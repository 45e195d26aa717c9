"""A channel: its name, port, schema and relay settings, and its default multicast endpoints.

Ingest, the CLI and the registry all use these, so every part of the system agrees. Which
channels exist is :mod:`speeddata.catalog`'s question; a schema's fingerprint is
:mod:`speeddata.schema`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from speeddata.config import Settings
from speeddata.schema import Schema


@dataclass(frozen=True)
class Endpoint:
    """A multicast ``group:port``."""

    group: str
    port: int

    def __str__(self) -> str:
        return f"{self.group}:{self.port}"


@dataclass(frozen=True)
class Channel:
    """One channel: its name, UDP port, schema (as the relay accepted it) and relay settings."""

    name: str
    port: int
    schema: Schema
    schema_text: str = field(repr=False)
    time_field: str | None
    time_unit: str
    config: dict[str, Any]
    archive_schema: dict[str, Any] = field(repr=False)
    """The schema of archived records and of ``data.<channel>`` records (rx_time first)."""

    def setting(self, key: str, settings: Settings) -> Any:
        """A relay setting of this channel: its own ``config`` value, else ``relay.<key>``."""
        return self.config.get(key, settings.relay[key])


def multicast_endpoints(port: int, settings: Settings) -> tuple[Endpoint, Endpoint]:
    """The default (full-rate, decimated) endpoints of the channel on UDP `port`."""
    m = settings.multicast
    return (
        Endpoint(m.full_group, port + m.full_offset),
        Endpoint(m.dec_group, port + m.dec_offset),
    )
