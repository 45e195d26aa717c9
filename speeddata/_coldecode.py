"""Decoding archive blocks into the columns of :mod:`speeddata.columnar`: polars' Avro reader on a
container spliced from the blocks (the fast path, no Python object per record for numbers,
enums and fixed), or fastavro record by record (the fallback, for what polars cannot read).

Both return, per leaf (see :mod:`speeddata._flatschema`), a numpy array of the column's values
and a validity mask (``None`` when every value is present), in the value types that
:mod:`speeddata.columnar` documents."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from speeddata._flatschema import NUMERIC, PRIMITIVES, Leaf, Names, nullable_branch, type_kind

Decoded = dict[str, tuple[np.ndarray, np.ndarray | None]]
"""Leaf name -> (values, valid)."""


def code_dtype(symbols: int) -> np.dtype[Any]:
    """The smallest unsigned integer type that holds an enum's indexes."""
    for t in (np.uint8, np.uint16, np.uint32):
        if symbols <= np.iinfo(t).max + 1:
            return np.dtype(t)
    return np.dtype(np.uint64)


def leaf_dtype(leaf: Leaf) -> np.dtype[Any]:
    if leaf.kind in NUMERIC:
        return np.dtype(NUMERIC[leaf.kind])
    if leaf.kind == "enum":
        return code_dtype(len(leaf.symbols))
    if leaf.kind == "fixed":
        return np.dtype(f"V{leaf.size}")
    return np.dtype(object)


def fill_value(leaf: Leaf) -> Any:
    """What a column holds where its value is absent: 0, NaN or empty."""
    if leaf.kind in ("float", "double"):
        return float("nan")
    if leaf.kind == "boolean":
        return False
    if leaf.kind == "string":
        return ""
    if leaf.kind == "bytes":
        return b""
    if leaf.kind == "fixed":
        return bytes(leaf.size)
    if leaf.kind == "array":
        return np.zeros(0, leaf_dtype(leaf.item) if leaf.item else object)
    if leaf.kind == "object":
        return None
    return 0


def absent(leaf: Leaf, n: int) -> np.ndarray:
    """A column of ``n`` absent values."""
    dtype = leaf_dtype(leaf)
    if not dtype.hasobject:
        if leaf.kind in ("float", "double"):
            return np.full(n, np.nan, dtype)
        return np.zeros(n, dtype)
    out = np.empty(n, object)
    value = fill_value(leaf)
    for i in range(n):
        out[i] = value.copy() if isinstance(value, np.ndarray) else value
    return out


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (never a 2-d array of equal-length sequences)."""
    out = np.empty(len(values), object)
    for i, v in enumerate(values):
        out[i] = v
    return out


# -- the fast path: polars ---------------------------------------------------------------------


def decode_polars(container: bytes, leaves: Sequence[Leaf], names: Names) -> Decoded:
    """Decode a container whose header holds the polars rewrite of the writer schema
    (:func:`speeddata._flatschema.polars_schema`). May raise anything, including exceptions
    that are not ``Exception`` subclasses (a panic in polars)."""
    import polars as pl

    top = list(dict.fromkeys(leaf.path[0] for leaf in leaves))
    return columns_from_frame(pl.read_avro(io.BytesIO(container), columns=top), leaves, names)


def columns_from_frame(df: Any, leaves: Sequence[Leaf], names: Names) -> Decoded:
    """The leaves' columns of a polars frame read under the polars rewrite of their schema."""
    out: Decoded = {}
    for leaf in leaves:
        s = df.get_column(leaf.path[0])
        nulls = s.is_null()
        for part in leaf.path[1:]:
            s = s.struct.field(part)
            nulls = nulls | s.is_null()
        valid = ~nulls.to_numpy() if nulls.any() else None
        out[leaf.name] = (_from_series(s, leaf, names), valid)
    return out


def _from_series(s: Any, leaf: Leaf, names: Names) -> np.ndarray:
    kind = leaf.kind
    if kind == "object":
        t = leaf.avro_type
        return object_array([_as_decoded(v, t, names) for v in s.to_list()])
    if kind == "array":
        return _lists_from_series(s, leaf, names)
    if s.null_count():
        fill = fill_value(leaf)
        s = s.fill_null(0 if kind == "enum" else fill)
    if kind == "fixed":
        return _fixed(s.to_list(), leaf.size)
    values = s.to_numpy(writable=True)  # a view of polars' memory would be read-only
    dtype = leaf_dtype(leaf)
    if dtype.hasobject and not values.dtype.hasobject:
        return object_array(list(values))
    return values.astype(dtype, copy=False)


def _lists_from_series(s: Any, leaf: Leaf, names: Names) -> np.ndarray:
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    item = leaf.item
    assert item is not None
    arr = s.rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    flat = _from_series(pl.Series(arr.flatten()), item, names)
    return object_array(np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else [])


def _fixed(values: Sequence[bytes], size: int) -> np.ndarray:
    if not values:
        return np.zeros(0, f"V{size}")
    return np.frombuffer(b"".join(values), f"V{size}").copy()


def _items(values: list[Any] | None, item: Leaf) -> np.ndarray:
    """One array value: a numpy array of its items."""
    if values is None:
        return np.zeros(0, leaf_dtype(item))
    return column_from_values(values, item)[0]


def _as_decoded(v: Any, t: Any, names: Names) -> Any:
    """A value as polars read it (under the rewritten schema) made what fastavro returns."""
    if isinstance(t, str) and t not in PRIMITIVES:
        found = names.lookup(t, "")
        t = found if found is not None else t
    kind = type_kind(t)
    if isinstance(t, dict) and isinstance(t.get("type"), dict | list):
        return _as_decoded(v, t["type"], names)
    if kind == "null":
        return None
    if v is None:
        return None
    if kind == "union":
        branch = nullable_branch(t)
        return _as_decoded(v, branch, names)
    if kind == "enum":
        return t["symbols"][v]
    if kind in ("record", "error"):
        return {f["name"]: _as_decoded(v[f["name"]], f["type"], names) for f in t["fields"]}
    if kind == "array":
        return [_as_decoded(x, t["items"], names) for x in v]
    if kind == "map":
        return {kv["key"]: _as_decoded(kv["value"], t["values"], names) for kv in v}
    return v


# -- the fallback: fastavro, record by record --------------------------------------------------


def decode_records(records: Iterable[dict[str, Any]], leaves: Sequence[Leaf]) -> Decoded:
    """Columns of records decoded by fastavro (values raw: logical types ignored)."""
    rows = list(records)
    out: Decoded = {}
    for leaf in leaves:
        out[leaf.name] = column_from_values([_get(r, leaf.path) for r in rows], leaf)
    return out


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    v: Any = record
    for part in path:
        if v is None:
            return None
        v = v[part]
    return v


def column_from_values(values: list[Any], leaf: Leaf) -> tuple[np.ndarray, np.ndarray | None]:
    """A column from values as fastavro decodes them (``None`` where absent)."""
    kind = leaf.kind
    missing = [v is None for v in values]
    valid = None
    if any(missing) and (kind != "object" or leaf.nullable):
        valid = ~np.array(missing, bool)
        fill = fill_value(leaf)
        values = [fill if m else v for v, m in zip(values, missing, strict=True)]
    if kind == "object":
        return object_array(values), valid
    if kind == "enum":
        index = {s: i for i, s in enumerate(leaf.symbols)}
        codes = [v if isinstance(v, int) else index[v] for v in values]
        return np.array(codes, leaf_dtype(leaf)), valid
    if kind == "fixed":
        return _fixed(values, leaf.size), valid
    if kind == "array":
        assert leaf.item is not None
        item = leaf.item
        return object_array([_items(v, item) for v in values]), valid
    dtype = leaf_dtype(leaf)
    if dtype.hasobject:
        return object_array(values), valid
    return np.array(values, dtype), valid


def container_schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":"))
