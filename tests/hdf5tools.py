"""Channels' columns made by hand for tests of speeddata.hdf5 and speeddata.dataset: one channel
with every type of the contract's table, in the column form speeddata.columnar documents."""

from __future__ import annotations

from typing import Any

import numpy as np

from speeddata.columnar import ChannelColumns, Column

T0 = 1_700_000_000_000_000_000
LEVELS = ("low", "mid", "high")
ROWS = 7

EVERY_TYPE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "every",
    "namespace": "speeddata.test",
    "doc": "every type of the HDF5 table",
    "fields": [
        {"name": "rx_time", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
        {"name": "time", "type": "long", "logicalType": "timestamp-nanos", "doc": "device"},
        {"name": "i", "type": "int", "doc": "an int", "units": "counts"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float", "unit": "V"},
        {"name": "d", "type": "double"},
        {"name": "ok", "type": "boolean"},
        {"name": "s", "type": "string", "doc": "text"},
        {"name": "b", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "four", "size": 4}},
        {"name": "e", "type": {"type": "enum", "name": "level", "symbols": list(LEVELS)}},
        {"name": "maybe", "type": ["null", "long"]},
        {"name": "maybe_s", "type": ["null", "string"]},
        {"name": "maybe_e", "type": ["null", "level"]},
        {
            "name": "pos",
            "type": {
                "type": "record",
                "name": "pos",
                "fields": [
                    {"name": "x", "type": "double", "units": "m"},
                    {"name": "label", "type": "string"},
                ],
            },
        },
        {"name": "samples", "type": {"type": "array", "items": "int"}},
        {"name": "words", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "either", "type": ["null", "int", "string"]},
        {"name": "fx2", "type": "four"},
    ],
}


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def every_type_values(n: int = ROWS) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Each column's values and validity mask (None: all valid), by column name."""
    r = range(n)
    maybe_valid = np.array([i % 3 != 0 for i in r])
    return {
        "time": (np.array([T0 + i * 1_000_003 for i in r], dtype=np.int64), None),
        "i": (np.array([i - 3 for i in r], dtype=np.int32), None),
        "l": (np.array([-(2**62) + i for i in r], dtype=np.int64), None),
        "f": (np.array([i / 4 for i in r], dtype=np.float32), None),
        "d": (np.array([np.nan if i == 2 else i * 1e300 for i in r]), None),
        "ok": (np.array([i % 2 == 0 for i in r]), None),
        "s": (_objects([["α-β", "", "日本", "x\ty"][i % 4] + str(i) for i in r]), None),
        "b": (_objects([bytes([0, i, 255]) * (i % 3) for i in r]), None),
        "fx": (np.array([bytes([i, 0, 1, 2]) for i in r], dtype="V4"), None),
        "e": (np.array([i % 3 for i in r], dtype=np.uint8), None),
        "maybe": (np.where(maybe_valid, np.arange(n) * -(10**9), 0).astype(np.int64), maybe_valid),
        "maybe_s": (_objects(["v" + str(i) if v else "" for i, v in zip(r, maybe_valid, strict=True)]), maybe_valid),  # noqa: E501
        "maybe_e": (np.array([i % 3 if v else 0 for i, v in zip(r, maybe_valid, strict=True)], dtype=np.uint8), maybe_valid),  # noqa: E501
        "pos.x": (np.array([i * 0.5 for i in r]), None),
        "pos.label": (_objects([f"p{i}" for i in r]), None),
        "samples": (_objects([np.arange(-(i % 3), i % 4, dtype=np.int32) for i in r]), None),
        "words": (_objects([["a", "b"][: i % 3] for i in r]), None),
        "attrs": (_objects([{f"k{j}": "v" * j for j in range(i % 3)} for i in r]), None),
        "either": (_objects([None if i % 3 == 0 else (i if i % 3 == 1 else str(i)) for i in r]), None),  # noqa: E501
        "fx2": (np.array([b"abcd"] * n, dtype="V4"), None),
    }  # fmt: skip


def _field_type(schema: dict[str, Any], name: str) -> Any:
    record = schema
    *parents, leaf = name.split(".")
    for parent in parents:
        record = next(f["type"] for f in record["fields"] if f["name"] == parent)
    field = next(f for f in record["fields"] if f["name"] == leaf)
    return field["type"]


def every_type_columns(n: int = ROWS, channel: str = "every") -> ChannelColumns:
    """The every-type channel with ``n`` rows (rx_time 5 us after the device time)."""
    columns = {}
    for name, (values, valid) in every_type_values(n).items():
        symbols = LEVELS if name in ("e", "maybe_e") else None
        avro_type = _field_type(EVERY_TYPE_SCHEMA, name)
        columns[name] = Column(name, values, avro_type, valid, symbols=symbols)
    time = columns["time"].values
    return ChannelColumns(
        channel=channel,
        schema=EVERY_TYPE_SCHEMA,
        time_field="time",
        time_unit="ns",
        rx_time=time + 5000,
        columns=columns,
        files=(f"/data/archive/{channel}/{channel}-20231114T221320Z-000001.avro",),
        range_ns=(T0, T0 + 10**10),
        clock="device",
        extra={"schema_versions": ["abc"]},
    )


def simple_columns(
    channel: str,
    signals: dict[str, np.ndarray],
    *,
    rx_time: np.ndarray,
    time_field: str | None = None,
    time_unit: str | None = None,
) -> ChannelColumns:
    """A channel of numeric signals (types from the arrays' dtypes)."""
    kinds = {
        "int32": "int",
        "int64": "long",
        "float32": "float",
        "float64": "double",
        "bool": "boolean",
    }
    fields = [{"name": "rx_time", "type": "long"}]
    columns = {}
    for name, values in signals.items():
        avro_type = kinds[values.dtype.name]
        fields.append({"name": name, "type": avro_type})
        columns[name] = Column(name, values, avro_type)
    schema = {"type": "record", "name": channel, "fields": fields}
    return ChannelColumns(channel, schema, time_field, time_unit, rx_time, columns)
