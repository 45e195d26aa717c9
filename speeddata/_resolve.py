"""Avro schema resolution on columns: one file's decoded column (written with its own schema
version) as the column of the reader schema's field, by Avro's rules (promotions, enum symbols by
name, the reader's default for a field the writer lacks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from speeddata._coldecode import Decoded, absent, column_from_values, leaf_dtype, object_array
from speeddata._flatschema import NUMERIC, Leaf

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}

Column = tuple[np.ndarray, np.ndarray | None]


def resolve(decoded: Decoded, writer: Leaf | None, reader: Leaf, rows: int) -> Column:
    """The reader's column for ``rows`` rows of one file, from its decoded writer column."""
    if writer is None:
        return _default(reader, rows)
    values, valid = decoded[writer.name]
    if writer.kind == reader.kind:
        return _same_kind(values, valid, writer, reader, rows)
    if reader.kind in _PROMOTIONS.get(writer.kind, ()):
        return _promote(values, writer.kind, reader), valid
    return absent(reader, rows), np.zeros(rows, bool)


def _same_kind(
    values: np.ndarray, valid: np.ndarray | None, writer: Leaf, reader: Leaf, rows: int
) -> Column:
    if reader.kind == "enum" and writer.symbols != reader.symbols:
        return _enum(values, valid, writer, reader)
    if reader.kind == "fixed" and writer.size != reader.size:
        return absent(reader, rows), np.zeros(rows, bool)
    if reader.kind == "array":
        return _arrays(values, writer, reader), valid
    return values, valid


def _promote(values: np.ndarray, kind: str, reader: Leaf) -> np.ndarray:
    if reader.kind in NUMERIC:
        return values.astype(NUMERIC[reader.kind])
    if kind == "string":
        return object_array([v.encode("utf-8") for v in values])
    return object_array([v.decode("utf-8", "replace") for v in values])


def _enum(values: np.ndarray, valid: np.ndarray | None, writer: Leaf, reader: Leaf) -> Column:
    """Codes of the writer's symbols as codes of the reader's (by name); a symbol the reader
    lacks takes the reader enum's default, else is absent."""
    default = reader.avro_type.get("default") if isinstance(reader.avro_type, dict) else None
    index = {s: i for i, s in enumerate(reader.symbols)}
    fallback = index.get(default, -1) if default is not None else -1
    table = np.array([index.get(s, fallback) for s in writer.symbols] or [0], np.int64)
    mapped = table[values.astype(np.int64)] if len(values) else np.zeros(0, np.int64)
    lost = mapped < 0
    if lost.any():
        valid = ~lost if valid is None else valid & ~lost
        mapped = np.where(lost, 0, mapped)
    return mapped.astype(leaf_dtype(reader)), valid


def _arrays(values: np.ndarray, writer: Leaf, reader: Leaf) -> np.ndarray:
    w, r = writer.item, reader.item
    if w is None or r is None or w.kind == r.kind or r.kind == "object":
        return values
    if r.kind in NUMERIC and r.kind in _PROMOTIONS.get(w.kind, ()):
        dtype = NUMERIC[r.kind]
        return object_array([v.astype(dtype) for v in values])
    return object_array([np.zeros(0, leaf_dtype(r)) for _ in values])


def _default(reader: Leaf, rows: int) -> Column:
    """A field the writer lacks: the reader's default in every row, else absent."""
    if not reader.has_default or reader.default is None:
        return absent(reader, rows), np.zeros(rows, bool)
    one = column_from_values([_json_default(reader.default, reader)], reader)[0]
    return np.repeat(one, rows) if rows else one[:0], None


def _json_default(value: Any, leaf: Leaf) -> Any:
    """A default as JSON gives it, as fastavro would decode it (bytes and fixed defaults are
    strings of code points 0-255)."""
    if leaf.kind in ("bytes", "fixed") and isinstance(value, str):
        return value.encode("latin-1")
    if leaf.kind == "array" and isinstance(value, list):
        return value
    return value
