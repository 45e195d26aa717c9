"""Where ``read_avro`` finds a channel's files, and the times and schemas users give it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from speeddata.timespec import parse_time

TimeLike = int | str | datetime | np.datetime64 | None


def archive_files(
    path: Path, start_ns: int | None, end_ns: int | None, clock: str
) -> list[tuple[str | None, list[Path]]]:
    """``(channel name, or None for the one in the files' headers; its files)`` for each
    channel under ``path``."""
    if path.is_file():
        return [(None, [path])]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if (path / "archive").is_dir():
        path = path / "archive"
    if any(path.glob("*.avro")):
        return [(path.name, _channel_files(path, start_ns, end_ns, clock))]
    folders = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.avro")))
    if not folders:
        raise FileNotFoundError(f"{path}: no archive files (*.avro) in it or its folders")
    return [(p.name, _channel_files(p, start_ns, end_ns, clock)) for p in folders]


def _channel_files(
    folder: Path, start_ns: int | None, end_ns: int | None, clock: str
) -> list[Path]:
    """A channel folder's files that can hold the range: chosen by their names' start times
    where the folder is ``<data>/archive/<channel>``, else all of them."""
    from speeddata.columnar import channel_files

    if folder.parent.name != "archive":
        return sorted(folder.glob("*.avro"))
    found = channel_files(folder.parent.parent, folder.name, start_ns, end_ns, clock=clock)
    return [Path(p) for p in found]


def to_ns(value: TimeLike) -> int | None:
    """A time as int ns since the epoch: int (ns), datetime (naive = UTC), numpy datetime64,
    or text as :func:`speeddata.timespec.parse_time` reads it (ISO 8601 with ``Z``, an offset
    or none = UTC, fractions to the nanosecond; ``now``, ``now-5m``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError("a time cannot be NaT")
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if isinstance(value, str):
        return parse_time(value)
    raise TypeError(f"a time must be int ns, datetime, numpy datetime64 or ISO text, not {value!r}")


def reader_schema(schema: str | os.PathLike[str] | dict[str, Any] | None) -> Any:
    """A reader schema given as a dict, JSON text or a path to a ``.avsc`` file."""
    if schema is None or isinstance(schema, dict):
        return schema
    text = str(schema)
    if not text.lstrip().startswith(("{", "[", '"')):
        text = Path(text).read_text(encoding="utf-8")
    return json.loads(text)
