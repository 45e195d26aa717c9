"""Small helpers over Avro schemas as parsed JSON that several readers share."""

from __future__ import annotations

from typing import Any


def encode_long(n: int) -> bytes:
    """The Avro binary encoding of a long: its zig-zag varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def without_logical_types(schema: Any) -> Any:
    """A copy of ``schema`` with the ``logicalType`` of every type removed, so values decode
    as stored (timestamps as ints of their unit, never datetimes). Field attributes (a
    ``logicalType`` placed on a field, docs), defaults and names are kept; the Parsing
    Canonical Form, hence the fingerprint, is unchanged."""
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "logicalType"}
    if isinstance(out.get("type"), dict | list):
        out["type"] = without_logical_types(out["type"])
    if isinstance(out.get("fields"), list):
        out["fields"] = [{**f, "type": without_logical_types(f["type"])} for f in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = without_logical_types(out[key])
    return out
