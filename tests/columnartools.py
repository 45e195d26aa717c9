"""Helpers for tests of speeddata.columnar: archive files written by fastavro with chosen blocks,
and the columns fastavro's own records say a reader must return."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from fastavro.write import Writer

from speeddata.archive import read_records
from speeddata.columnar import ChannelColumns, Column
from speeddata.schema import RX_TIME_FIELD


def archive_of(channel_schema: dict[str, Any]) -> dict[str, Any]:
    """The archive schema of a channel schema (rx_time first), as the relay derives it."""
    return {**channel_schema, "fields": [RX_TIME_FIELD, *channel_schema["fields"]]}


def file_name(channel: str, start_ns: int, seq: int) -> str:
    stamp = datetime.fromtimestamp(start_ns // 10**9, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{channel}-{stamp}-{seq:06d}.avro"


def container(
    schema: dict[str, Any],
    blocks: list[list[dict[str, Any]]],
    *,
    channel: str = "chan",
    time_field: str | None = "time",
    time_unit: str = "ns",
    codec: str = "null",
) -> bytes:
    """An archive container of ``schema`` (an archive schema) holding ``blocks``, one block
    each, with the relay's metadata keys."""
    metadata = {"speeddata.channel": channel, "speeddata.time_unit": time_unit}
    if time_field:
        metadata["speeddata.time_field"] = time_field
    out = io.BytesIO()
    parsed = fastavro.parse_schema(schema)
    writer = Writer(out, parsed, codec=codec, metadata=metadata)
    writer.flush()
    for block in blocks:
        for record in block:
            writer.write(record)
        writer.flush()
    return out.getvalue()


def write_file(
    folder: Path,
    schema: dict[str, Any],
    blocks: list[list[dict[str, Any]]],
    *,
    seq: int,
    start_ns: int | None = None,
    channel: str = "chan",
    **kw: Any,
) -> Path:
    """An archive file named as the relay names it (start: the first record's rx_time)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = next((r["rx_time"] for b in blocks for r in b), 0) if start_ns is None else start_ns
    path = folder / file_name(channel, first, seq)
    path.write_bytes(container(schema, blocks, channel=channel, **kw))
    return path


def fastavro_records(paths: list[Path]) -> list[dict[str, Any]]:
    """The files' records as fastavro decodes them (raw, through speeddata.archive)."""
    return [r for p in paths for r in read_records(p)]


def expected_value(column: Column, i: int) -> Any:
    """Row ``i`` of a column as fastavro decodes it (None where not valid)."""
    if column.valid is not None and not column.valid[i]:
        return None
    v = column.values[i]
    if column.symbols is not None and not isinstance(v, np.ndarray):
        return column.symbols[int(v)]
    if isinstance(v, np.void):
        return v.tobytes()
    if isinstance(v, np.ndarray) and column.symbols is not None:
        return [column.symbols[int(x)] for x in v]
    if isinstance(v, np.ndarray):
        return [_item(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _item(x: Any) -> Any:
    if isinstance(x, np.void):
        return x.tobytes()
    return x.item() if isinstance(x, np.generic) else x


def get_path(record: dict[str, Any], name: str) -> Any:
    v: Any = record
    for part in name.split("."):
        if v is None:
            return None
        v = v[part]
    return v


def assert_columns_equal_records(cc: ChannelColumns, records: list[dict[str, Any]]) -> None:
    """Every column of ``cc`` holds, row by row, what fastavro decoded."""
    assert cc.rows == len(records)
    assert cc.rx_time.dtype == np.int64
    assert cc.rx_time.tolist() == [r["rx_time"] for r in records]
    for name, column in cc.columns.items():
        assert len(column.values) == len(records), name
        for i, record in enumerate(records):
            got = expected_value(column, i)
            want = get_path(record, name)
            assert _same(got, want), f"{name}[{i}]: {got!r} != {want!r}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
