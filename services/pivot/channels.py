"""What the pivot knows of a channel: its reader schema (the archive schema of its newest
version), its time field and unit, and the signals one may ask for.

The registry is asked first (``GET /api/v1/channels/{name}``: the current schema is the newest
version); when it does not answer, or has no such channel (a deleted channel's archive stays
exportable), the archive's files tell: each header holds its archive schema, channel, time
field and unit. A channel that neither knows is unknown (404)."""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speeddata.archive import ArchiveError, Header, archive_files, open_archive
from speeddata.client import Client, ClientError, NotFound
from speeddata.config import Settings
from speeddata.schema import SchemaError, archive_schema, time_unit

log = logging.getLogger("services.pivot")

RETRY_S = 5.0
"""How long the pivot goes by the archive alone after the registry did not answer."""


@dataclass(frozen=True)
class ChannelInfo:
    """One channel as an export reads it."""

    name: str
    schema: dict[str, Any]
    """The reader archive schema (``rx_time`` first)."""
    time_field: str | None
    time_unit: str | None
    source: str
    """``registry`` or ``archive``: who told."""
    version: int | None = None
    """The registry's schema version, when it told."""

    @functools.cached_property
    def signals(self) -> dict[str, tuple[str, ...]]:
        """Every name one may ask for (``rx_time`` excluded): each field, and each field of a
        nested record as ``a.b``, mapped to the leaf signals it stands for."""
        return signal_names(self.schema)


class Registry:
    """The registry's channel records over one kept connection, or ``None`` when it does not
    answer: then it is asked again only after :data:`RETRY_S` (an export does not wait for a
    registry that is away), and the change of state is logged once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def record(self, name: str) -> dict[str, Any] | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            record: dict[str, Any] | None = self._http().channel(name)
        except NotFound:
            record = None
        except ClientError as e:
            if not self._retry_at:
                log.warning("the registry does not answer (%s): channels from the archive", e)
            self._retry_at = time.monotonic() + RETRY_S
            return None
        self._retry_at = 0.0
        return record

    def _http(self) -> Client:
        with self._lock:
            if self._client is None:
                timeout = self.settings.pivot.registry_timeout_s
                self._client = Client(settings=self.settings, timeout=timeout)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def lookup(name: str, settings: Settings, registry: Registry) -> ChannelInfo | None:
    """The channel ``name`` as the registry, else its archive, describes it; ``None`` when
    neither knows it."""
    header = newest_header(settings.data_dir, name)
    record = registry.record(name)
    if record is not None:
        try:
            return _from_record(record, header, settings)
        except SchemaError as e:
            log.warning("channel %s: the registry's schema cannot be used (%s)", name, e)
    if header is None:
        return None
    return ChannelInfo(
        name=name,
        schema=header.schema,
        time_field=header.time_field,
        time_unit=header.time_unit,
        source="archive",
    )


def newest_header(data_dir: Path, name: str) -> Header | None:
    """The header of the newest archive file of ``name`` that has a whole one."""
    for path in reversed(archive_files(data_dir, name)):
        try:
            with open_archive(path) as f:
                return f.header
        except (ArchiveError, OSError):
            continue
    return None


def _from_record(record: dict[str, Any], header: Header | None, settings: Settings) -> ChannelInfo:
    """The registry's channel; the archive schema is the newest file's header when that file
    holds the current version (same fingerprint), else the relay derives it."""
    time_field = record.get("time_field")
    if header is not None and header.fingerprint == record.get("fingerprint"):
        schema, unit = header.schema, header.time_unit
    else:
        text = json.dumps(record["schema"])
        schema = _archive_schema(text, settings)
        unit = _time_unit(text, time_field, record.get("time_unit"), settings)
    return ChannelInfo(
        name=record["name"],
        schema=schema,
        time_field=time_field,
        time_unit=unit if time_field else None,
        source="registry",
        version=record.get("schema_version"),
    )


def _archive_schema(text: str, settings: Settings) -> dict[str, Any]:
    """The relay's archive schema of a channel schema text (kept: one short process each)."""
    key = ("archive", text, None, None, str(settings.path(settings.relay.binary)))
    if key not in _RELAY_ANSWERS:
        _RELAY_ANSWERS[key] = json.dumps(archive_schema(text, settings=settings))
    return json.loads(_RELAY_ANSWERS[key])  # type: ignore[no-any-return]


def _time_unit(text: str, field: str | None, fallback: str | None, settings: Settings) -> str:
    """The unit of the time field by the contract's rules, as the relay resolves it (kept)."""
    key = ("unit", text, field, fallback, str(settings.path(settings.relay.binary)))
    if key not in _RELAY_ANSWERS:
        _RELAY_ANSWERS[key] = time_unit(text, field, fallback, settings=settings)
    return _RELAY_ANSWERS[key]


_RELAY_ANSWERS: dict[tuple[str, str, str | None, str | None, str], str] = {}
"""The relay's answers by question; a few per schema version, for the process's life."""


def signal_names(schema: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each askable name of an archive schema and the leaf signals it stands for: a field of
    a nested record is ``a.b`` (and ``a`` stands for all of them)."""
    named: dict[str, Any] = {}
    out: dict[str, tuple[str, ...]] = {}

    def walk(
        record: dict[str, Any], prefix: str, namespace: str | None, open_: list[int]
    ) -> list[str]:
        leaves: list[str] = []
        for f in record.get("fields", []):
            name = prefix + f["name"]
            if name == "rx_time":
                continue
            inner = _record_of(f["type"], named, namespace)
            if inner is not None and id(inner) not in open_:  # a recursive record is one signal
                space = inner.get("namespace", namespace)
                below = walk(inner, name + ".", space, [*open_, id(inner)])
            else:
                below = [name]
            out[name] = tuple(below)
            leaves += below
        return leaves

    _record_of(schema, named, None)  # the channel record, by name, for a recursive field
    walk(schema, "", schema.get("namespace"), [id(schema)])
    return out


def _record_of(t: Any, named: dict[str, Any], namespace: str | None) -> dict[str, Any] | None:
    """The record type ``t`` is (defined here, or by name), else ``None``; records seen are
    remembered by their full and short names."""
    if isinstance(t, dict) and t.get("type") == "record":
        space = t.get("namespace", namespace)
        full = t["name"] if "." in t["name"] or not space else f"{space}.{t['name']}"
        named[full] = named[t["name"].rpartition(".")[2]] = t
        return t
    if isinstance(t, dict) and t.get("type") in ("enum", "fixed"):
        return None
    if isinstance(t, str):
        return named.get(t) or named.get(f"{namespace}.{t}")
    return None
