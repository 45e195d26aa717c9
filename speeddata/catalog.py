"""Channels as ingest and the CLI use them, built from an entry: a registry record (the one
source of channels while the system runs) or an item of the settings' ``channels:`` list (the
baseline that seeds an empty registry, and what ingest runs when no registry ever answered).

:func:`registry_channels` asks the registry; :func:`configured_channels` reads the baseline;
:func:`find_channel` and :func:`channel_names` ask the registry, else the baseline."""

from __future__ import annotations

import json
import re
from typing import Any

from speeddata._http import ClientError
from speeddata.channels import Channel
from speeddata.config import Settings
from speeddata.schema import SchemaError, archive_schema, load_schema, time_unit

NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
ALGORITHMS = ("downsample", "mean", "minmax", "rms", "average")
CONFIG_KEYS = (
    "decimation",
    "algorithm",
    "rotate_seconds",
    "rotate_bytes",
    "flush_ms",
    "dec_max_bytes",
    "retention_ttl_s",
    "retention_quota_bytes",
)
"""Per-channel settings a channel's ``config`` may set (the rest come from ``relay:``; the
``retention_`` keys are the janitor's). The original's ``rotation`` means ``rotate_seconds``."""


class ChannelError(ValueError):
    """A channel that is unknown or cannot be used; the message says which and why."""


def configured_channels(settings: Settings) -> list[Channel]:
    """Every channel to run, in the order of the configuration; raises :class:`ChannelError`
    on the first unusable entry."""
    entries = settings.channels or []
    if not isinstance(entries, list):
        raise ChannelError("setting channels must be a list of channels")
    channels = [make_channel(entry, settings) for entry in entries]
    _check_unique(channels)
    return channels


def find_channel(settings: Settings, name: str) -> Channel:
    """The channel called ``name``: the registry's when it answers, else the baseline's;
    raises :class:`ChannelError` when there is none."""
    try:
        records: list[dict[str, Any]] | None = registry_records(settings)
    except ClientError:
        records = None
    if records is None:
        channels = configured_channels(settings)
        names = [c.name for c in channels]
        found = next((c for c in channels if c.name == name), None)
    else:
        names = [r["name"] for r in records]
        entry = next((registry_entry(r) for r in records if r["name"] == name), None)
        found = None if entry is None else make_channel(entry, settings)
    if found is None:
        known = ", ".join(names) or "none"
        raise ChannelError(f"unknown channel {name!r} (channels: {known})")
    return found


def channel_names(settings: Settings) -> list[str]:
    """The names of the channels: the registry's when it answers, else the baseline's."""
    try:
        return [str(r["name"]) for r in registry_records(settings)]
    except ClientError:
        return [c.name for c in configured_channels(settings)]


def registry_records(settings: Settings, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The registry's channel records; raises :class:`~speeddata.client.ClientError` when it
    does not answer or refuses."""
    from speeddata.client import Client

    with Client(settings=settings, timeout=timeout) as client:
        return client.channels()


def registry_channels(settings: Settings) -> list[Channel]:
    """The registry's channels (see :func:`registry_records`); a record that cannot be used
    here is a :class:`ChannelError`."""
    return [make_channel(registry_entry(r), settings) for r in registry_records(settings)]


def registry_entry(record: dict[str, Any]) -> dict[str, Any]:
    """A registry channel record as an entry of :func:`make_channel`."""
    return {
        "name": record["name"],
        "port": record["port"],
        "schema": record["schema"],
        "time_field": record.get("time_field"),
        "time_unit": record.get("time_unit"),
        "config": record.get("config") or {},
    }


def make_channel(entry: Any, settings: Settings) -> Channel:
    """The channel of one entry ``{name, port, schema, time_field, time_unit, config}``, its
    schema judged by the relay; raises :class:`ChannelError` naming the channel and why."""
    if not isinstance(entry, dict):
        raise ChannelError(f"a channel entry must be a mapping, not {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ChannelError(f"channel name {name!r} must match {NAME_RE.pattern}")
    port = entry.get("port")
    low, high = settings.ports.start, settings.ports.end
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port < high:
        raise ChannelError(f"channel {name}: port {port!r} must be an integer in [{low}, {high})")
    time_field = entry.get("time_field")
    try:
        text = _schema_text(entry.get("schema"), settings)
        # The relay judges the exact text it will be started with (one run per schema).
        schema = load_schema(
            text, time_field=time_field, time_unit=entry.get("time_unit"), settings=settings
        )
        unit = time_unit(text, time_field, entry.get("time_unit"), settings=settings)
        archived = archive_schema(text, settings=settings)
    except SchemaError as e:
        raise ChannelError(f"channel {name}: {e}") from None
    return Channel(
        name=name,
        port=port,
        schema=schema,
        schema_text=text,
        time_field=time_field,
        time_unit=unit,
        config=_config(name, entry.get("config") or {}),
        archive_schema=archived,
    )


def _schema_text(source: Any, settings: Settings) -> str:
    """The schema's exact text: inline (a mapping in the configuration), or the path of an
    ``.avsc`` file, relative to the installation root (as the contract's clients send it)."""
    if source is None:
        raise SchemaError("no schema given")
    if isinstance(source, str):
        path = settings.path(source)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc}") from exc
    try:
        return json.dumps(source, indent=2)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"the inline schema cannot be written as JSON: {exc}") from exc


def _config(name: str, config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ChannelError(f"channel {name}: config must be a mapping")
    if "rotation" in config:
        rotation = config["rotation"]
        config = {k: v for k, v in config.items() if k != "rotation"}
        config.setdefault("rotate_seconds", rotation)
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ChannelError(
            f"channel {name}: unknown config key {unknown[0]!r} (known: {', '.join(CONFIG_KEYS)})"
        )
    algorithm = config.get("algorithm", "downsample")
    if algorithm not in ALGORITHMS:
        raise ChannelError(
            f"channel {name}: algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}"
        )
    decimation = config.get("decimation", 1)
    if not isinstance(decimation, int) or isinstance(decimation, bool) or decimation < 1:
        raise ChannelError(f"channel {name}: decimation {decimation!r} must be an integer >= 1")
    return {**config, "algorithm": algorithm, "decimation": decimation}


def _check_unique(channels: list[Channel]) -> None:
    for attr in ("name", "port"):
        seen: set[Any] = set()
        for channel in channels:
            value = getattr(channel, attr)
            if value in seen:
                raise ChannelError(f"two channels have the {attr} {value!r}")
            seen.add(value)
