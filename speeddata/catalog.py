"""The channels this installation runs, as ingest and the CLI see them.

Until the registry exists they come from the ``channels:`` list of the settings; then
:func:`configured_channels` is the one function that changes to ask the registry."""

from __future__ import annotations

import json
import re
from typing import Any

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
)
"""Per-channel settings a channel's ``config`` may set (the rest come from ``relay:``)."""


class ChannelError(ValueError):
    """A channel that is unknown or cannot be used; the message says which and why."""


def configured_channels(settings: Settings) -> list[Channel]:
    """Every channel to run, in the order of the configuration; raises :class:`ChannelError`
    on the first unusable entry."""
    entries = settings.channels or []
    if not isinstance(entries, list):
        raise ChannelError("setting channels must be a list of channels")
    channels = [_channel(entry, settings) for entry in entries]
    _check_unique(channels)
    return channels


def find_channel(settings: Settings, name: str) -> Channel:
    """The channel called ``name``; raises :class:`ChannelError` when there is none."""
    channels = configured_channels(settings)
    for channel in channels:
        if channel.name == name:
            return channel
    known = ", ".join(c.name for c in channels) or "none"
    raise ChannelError(f"unknown channel {name!r} (channels: {known})")


def _channel(entry: Any, settings: Settings) -> Channel:
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
