"""A channel schema with a field of every Avro logical type, and records whose values lie
outside what each logical type means (a microsecond clock in a timestamp-millis field, a
time-millis past midnight, a uuid that is no UUID, a decimal with more digits than its
precision...): valid Avro that the relay archives, that readers must read raw."""

from __future__ import annotations

from typing import Any


def _lt(base: str | dict[str, Any], logical: str, **extra: Any) -> dict[str, Any]:
    """``base`` (a primitive name or a fixed) with a logical type."""
    named = base if isinstance(base, dict) else {"type": base}
    return {**named, "logicalType": logical, **extra}


def _fixed(name: str, size: int) -> dict[str, Any]:
    return {"type": "fixed", "name": name, "size": size}


FIELDS: list[tuple[str, Any]] = [
    ("ts_ms", _lt("long", "timestamp-millis")),
    ("ts_us", _lt("long", "timestamp-micros")),
    ("ts_ns", _lt("long", "timestamp-nanos")),
    ("local_ms", _lt("long", "local-timestamp-millis")),
    ("local_us", _lt("long", "local-timestamp-micros")),
    ("local_ns", _lt("long", "local-timestamp-nanos")),
    ("day", _lt("int", "date")),
    ("t_ms", _lt("int", "time-millis")),
    ("t_us", _lt("long", "time-micros")),
    ("dec", _lt("bytes", "decimal", precision=4, scale=2)),
    ("dec_fixed", _lt(_fixed("dec8", 8), "decimal", precision=3, scale=1)),
    ("big_dec", _lt("bytes", "big-decimal")),
    ("id", _lt("string", "uuid")),
    ("id_fixed", _lt(_fixed("uuid16", 16), "uuid")),
    ("span", _lt(_fixed("duration12", 12), "duration")),
    ("maybe_ms", ["null", _lt("long", "timestamp-millis")]),
    ("list_days", {"type": "array", "items": _lt("int", "date")}),
]

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "logical",
    "namespace": "speeddata.test",
    "doc": "A field of every logical type",
    "fields": [{"name": name, "type": t} for name, t in FIELDS],
}

IN_RANGE: dict[str, Any] = {
    "ts_ms": 1_700_000_000_000,
    "ts_us": 1_700_000_000_000_000,
    "ts_ns": 1_700_000_000_000_000_000,
    "local_ms": 1_700_000_000_000,
    "local_us": 1_700_000_000_000_000,
    "local_ns": 1_700_000_000_000_000_000,
    "day": 19_700,
    "t_ms": 3_600_000,
    "t_us": 3_600_000_000,
    "dec": (12_345).to_bytes(2, "big", signed=True),
    "dec_fixed": (123).to_bytes(8, "big", signed=True),
    "big_dec": b"\x01\x02",
    "id": "2f1e6f9c-3a56-4d6e-9b1d-8a1f3c2b4d5e",
    "id_fixed": bytes(range(16)),
    "span": b"\x01\x00\x00\x00" * 3,
    "maybe_ms": 1_700_000_000_000,
    "list_days": [0, 19_700],
}

OUT_OF_RANGE: list[dict[str, Any]] = [
    {
        "ts_ms": 1_700_000_000_000_000,  # a microsecond clock: the year 55,800
        "ts_us": 2**62,
        "ts_ns": -(2**63),
        "local_ms": 2**63 - 1,
        "local_us": -(2**62),
        "local_ns": 2**63 - 1,
        "day": 2**31 - 1,
        "t_ms": -1,
        "t_us": 86_400_000_001,
        "dec": (123_456_789).to_bytes(4, "big", signed=True),  # 9 digits, precision 4
        "dec_fixed": (10**15).to_bytes(8, "big", signed=True),
        "big_dec": b"",  # not even a scale
        "id": "not a uuid \u00e9",
        "id_fixed": b"\xff" * 16,
        "span": b"\xff" * 12,
        "maybe_ms": -(2**63),
        "list_days": [-(2**31), 2**31 - 1],
    },
    {
        "ts_ms": -(2**63),
        "ts_us": 2**63 - 1,
        "ts_ns": 2**63 - 1,
        "local_ms": -(2**63),
        "local_us": 2**63 - 1,
        "local_ns": -(2**63),
        "day": -(2**31),
        "t_ms": 2**31 - 1,
        "t_us": -(2**63),
        "dec": b"\x80" + b"\x00" * 40,  # a huge negative unscaled value
        "dec_fixed": b"\x80" + b"\x00" * 7,
        "big_dec": b"\xff" * 3,
        "id": "",
        "id_fixed": b"\x00" * 16,
        "span": b"\x00" * 12,
        "maybe_ms": None,
        "list_days": [],
    },
]

RECORDS: list[dict[str, Any]] = [IN_RANGE, *OUT_OF_RANGE, IN_RANGE]
"""Records in range around the ones out of range: the file must read whole, in order."""
