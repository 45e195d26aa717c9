"""The relays ingest should run: one per registry channel, each with its command line.

A channel's relay reads the schema copy ingest writes to ``<data>/schemas/<name>.v<N>.avsc``
(one file per schema version). Two relays are the same when their command lines are: a change
of port, schema version, time field or config gives another command line, so a restart.

The last channel list the registry gave is kept in ``<data>/run/channels.json``, so a
supervisor that starts while the registry is away runs what it last heard; with no such file
(the registry never answered ingest) it runs the settings' baseline channels, the list that
seeds an empty registry."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.ingest._argv import relay_argv, write_schema
from speeddata.catalog import ChannelError, make_channel, registry_entry
from speeddata.channels import Channel
from speeddata.config import Settings

CACHE_NAME = "channels.json"
BASELINE_VERSION = 1
"""The schema version of a baseline channel (as the registry numbers a seeded one)."""

Complain = Callable[[str, str], None]
"""Called as ``complain(channel, why)`` for a channel ingest cannot run."""


@dataclass(frozen=True)
class Wanted:
    """One relay to run."""

    channel: Channel
    version: int
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.channel.name

    @property
    def port(self) -> int:
        return self.channel.port


class Planner:
    """Turns channel records into :class:`Wanted` relays; a record seen before is not judged
    again."""

    def __init__(self, settings: Settings, complain: Complain) -> None:
        self.settings = settings
        self.complain = complain
        self._known: dict[str, tuple[str, Wanted]] = {}

    def plan(self, records: list[dict[str, Any]]) -> dict[str, Wanted]:
        out: dict[str, Wanted] = {}
        for record in records:
            wanted = self._wanted(record)
            if wanted is not None:
                out[wanted.name] = wanted
        for name in set(self._known) - set(out):
            del self._known[name]
        return out

    def _wanted(self, record: dict[str, Any]) -> Wanted | None:
        name = str(record.get("name"))
        key = json.dumps(
            [registry_entry(record), record.get("schema_version")], sort_keys=True, default=str
        )
        known = self._known.get(name)
        if known is not None and known[0] == key:
            return known[1]
        try:
            channel = make_channel(registry_entry(record), self.settings)
            version = int(record.get("schema_version") or BASELINE_VERSION)
            path = write_schema(channel, self.settings.data_dir, version)
        except (ChannelError, KeyError, TypeError, ValueError) as e:
            self.complain(name, str(e))
            return None if known is None else known[1]  # the former settings keep running
        except OSError as e:
            self.complain(name, f"cannot write its schema file: {e}")
            return None if known is None else known[1]
        wanted = Wanted(channel, version, tuple(relay_argv(channel, self.settings, path)))
        self._known[name] = (key, wanted)
        return wanted


def baseline_records(settings: Settings) -> list[dict[str, Any]]:
    """The settings' ``channels:`` list as records (a bad list: no channels)."""
    entries = settings.channels or []
    return [dict(e) for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def cache_path(settings: Settings) -> Path:
    return settings.data_dir / "run" / CACHE_NAME


def read_cache(settings: Settings) -> list[dict[str, Any]] | None:
    """The channel records last heard from the registry, or None when there are none."""
    try:
        records = json.loads(cache_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return records if isinstance(records, list) else None


def write_cache(settings: Settings, records: list[dict[str, Any]]) -> None:
    """Keeps ``records`` (atomically) for a supervisor that starts while the registry is away."""
    path = cache_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records), encoding="utf-8")
    tmp.replace(path)
