"""A channel as the gateway sees it: its schema (by fingerprint), its signals, its clock, and
the decoding of its records into columns (:class:`Rows`)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastavro import parse_schema, schemaless_reader

from speeddata._avro import without_logical_types
from speeddata.columnar import NS_PER_UNIT
from speeddata.schema import RX_TIME_FIELD, SchemaError, archive_schema

NUMERIC = frozenset({"int", "long", "float", "double", "boolean", "enum"})
"""Avro types whose values go into binary frames (an enum as its symbol's index)."""

KEPT = (
    "name",
    "schema",
    "schema_version",
    "fingerprint",
    "time_field",
    "time_unit",
    "multicast",
    "status",
)
"""The fields of a registry channel record the gateway follows."""


@dataclass(frozen=True)
class Signal:
    name: str
    """Field name; nested record fields as ``a.b``."""
    path: tuple[str, ...]
    type: str
    numeric: bool
    nullable: bool
    units: str | None
    doc: str | None
    symbols: tuple[str, ...] | None = None

    def advertised(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "type": self.type,
            "numeric": self.numeric,
            "nullable": self.nullable,
            "units": self.units,
            "doc": self.doc,
        }
        if self.symbols is not None:
            out["symbols"] = list(self.symbols)
        return out


@dataclass
class Rows:
    """Decoded records of one channel as columns: the frames' time (device time where
    declared, else rx_time), rx_time, one float64 row per numeric signal, and the newest value
    of each text signal."""

    t: np.ndarray
    rx: np.ndarray
    values: np.ndarray
    """(numeric signals, rows) float64."""
    text: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)


class ChannelInfo:
    """One registry channel record, made ready for decoding. Two infos are the same channel
    version when their :attr:`key` is equal."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.name: str = record["name"]
        self.schema: dict[str, Any] = record["schema"]
        self.fingerprint: str = record["fingerprint"]
        self.version = record.get("schema_version")
        self.time_field: str | None = record.get("time_field")
        self.time_unit: str = record.get("time_unit") or "ns"
        self.status: str = record.get("status") or ""
        self.mcast_dec: str = (record.get("multicast") or {}).get("decimated", "")
        self.clock = "device" if self.time_field else "rx"
        self.signals = tuple(signals_of(self.schema))
        self.numeric = tuple(s for s in self.signals if s.numeric)
        self.text = tuple(s for s in self.signals if not s.numeric)
        self.index = {s.name: i for i, s in enumerate(self.numeric)}
        self._archive = parse_schema(without_logical_types(_archive_schema(self.schema)))
        self._bare = parse_schema(without_logical_types(self.schema))
        self._scale = NS_PER_UNIT.get(self.time_unit, 1)

    @property
    def key(self) -> tuple[Any, ...]:
        """What decides decoding and the signals: a change of it is a new channel version."""
        return (self.name, self.fingerprint, self.time_field, self.time_unit)

    def advertise(self) -> dict[str, Any]:
        return {
            "type": "advertise",
            "channel": self.name,
            "fingerprint": self.fingerprint,
            "schema_version": self.version,
            "time_field": self.time_field,
            "time_unit": self.time_unit,
            "clock": self.clock,
            "status": self.status,
            "signals": [s.advertised() for s in self.signals],
        }

    def decode_archive(self, data: bytes, count: int) -> Rows:
        """``count`` archive records (``rx_time`` first) back to back, as a ``data.<channel>``
        batch carries them. ValueError when the bytes are not exactly that."""
        records = _read(data, self._archive, count)
        rx = np.fromiter((r["rx_time"] for r in records), np.int64, len(records))
        return self._rows(records, rx)

    def decode_bare(self, data: bytes, rx_time: int) -> Rows:
        """Bare records of the channel schema back to back (a decimated multicast datagram),
        all received at ``rx_time``. ValueError when the bytes are not whole records."""
        records = _read(data, self._bare, None)
        return self._rows(records, np.full(len(records), rx_time, np.int64))

    def _rows(self, records: list[dict[str, Any]], rx: np.ndarray) -> Rows:
        n = len(records)
        values = np.empty((len(self.numeric), n), np.float64)
        for i, s in enumerate(self.numeric):
            values[i] = [_number(_get(r, s.path), s) for r in records]
        if self.time_field is None:
            t = rx
        else:
            t = np.fromiter((r[self.time_field] for r in records), np.int64, n) * self._scale
        text = {}
        if n and self.text:
            last = records[-1]
            text = {s.name: (int(t[-1]), _get(last, s.path)) for s in self.text}
        return Rows(t, rx, values, text)


def _archive_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The relay's archive schema (asked once per schema); rx_time put first by hand when the
    relay cannot be asked (decoding needs the binary layout only)."""
    try:
        return archive_schema(schema)
    except (SchemaError, OSError):
        return {**schema, "fields": [RX_TIME_FIELD, *schema.get("fields", [])]}


def _read(data: bytes, parsed: Any, count: int | None) -> list[dict[str, Any]]:
    buf = io.BytesIO(data)
    out: list[Any] = []
    end = len(data)
    try:
        while buf.tell() < end if count is None else len(out) < count:
            out.append(schemaless_reader(buf, parsed, None))
    except Exception as e:  # noqa: BLE001 - bytes from the network: any reader failure
        raise ValueError(f"records do not match the schema: {e!r}") from None
    if buf.tell() != len(data):
        raise ValueError(f"{len(data) - buf.tell()} bytes after the records")
    return out  # type: ignore[return-value]


def _get(record: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _number(value: Any, signal: Signal) -> float:
    if value is None:
        return math.nan
    if signal.symbols is not None:
        try:
            return float(signal.symbols.index(value))
        except ValueError:
            return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def signals_of(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[Signal]:
    """Every field of a record schema as a signal, nested records flattened to ``a.b``."""
    out: list[Signal] = []
    for f in schema.get("fields", []):
        path = (*prefix, f["name"])
        kind, nullable = _kind(f["type"])
        if isinstance(kind, dict) and kind.get("type") == "record" and len(path) < 8:
            out += signals_of(kind, path)
            continue
        name = kind if isinstance(kind, str) else kind.get("type", "?")
        if isinstance(kind, dict) and name in NUMERIC | {"fixed"} and "logicalType" in kind:
            name = kind["type"]
        symbols = tuple(kind["symbols"]) if isinstance(kind, dict) and name == "enum" else None
        units = f.get("units") or f.get("unit") or f.get("doc")
        out.append(
            Signal(
                name=".".join(path),
                path=path,
                type=str(name),
                numeric=name in NUMERIC,
                nullable=nullable,
                units=str(units) if units is not None else None,
                doc=f.get("doc"),
                symbols=symbols,
            )
        )
    return out


def _kind(avro_type: Any) -> tuple[Any, bool]:
    """The type of a field with a ``["null", X]`` union reduced to X (and nullable)."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        if len(others) == 1:
            return _kind(others[0])[0], len(others) < len(avro_type)
        return "union", "null" in avro_type
    if isinstance(avro_type, dict) and avro_type.get("type") in NUMERIC - {"enum"}:
        return avro_type["type"], False
    return avro_type, False
