"""How each kind of column is stored in an HDF5 dataset, and read back (``speeddata.hdf5``).

Every signal's dataset carries an ``encoding`` attribute naming one of these:

- ``native``: numbers as their numpy type, ``boolean`` as h5py's bool (an HDF5 enum
  FALSE/TRUE of int8), ``enum`` as an HDF5 enum of the symbols over the smallest unsigned
  integer type, ``fixed`` as HDF5 opaque of its size;
- ``utf8``: ``string`` as variable-length UTF-8 strings (null rows hold ``""``);
- ``bytes``: ``bytes`` as variable-length sequences of uint8 (HDF5 has no variable-length
  opaque type, and variable-length strings end at a NUL byte);
- ``vlen``: an ``array`` of numbers or booleans as variable-length sequences of the item type;
- ``json``: what has no column form (maps, unions of several non-null types, arrays of
  anything else, records inside those) as variable-length UTF-8 strings, each the JSON text of
  the value as decoded: ``bytes`` as a string of the code points 0-255 (as Avro's JSON
  encoding writes them), NaN and infinities as ``NaN``/``Infinity`` (Python's JSON), and union
  values without their branch name (the dataset's ``avro_type`` attribute has the union).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from speeddata.columnar import Column

PRIMITIVE_DTYPES: dict[str, np.dtype] = {
    "int": np.dtype(np.int32),
    "long": np.dtype(np.int64),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "boolean": np.dtype(np.bool_),
}
_STRINGS = np.dtypes.StringDType(na_object=None)
_UTF8 = h5py.string_dtype("utf-8")


@dataclass(frozen=True)
class Kind:
    """A field's type seen through a null union: what decides its encoding."""

    name: str
    """An Avro type name (``int``, ``string``, ``record``, ``array``, ...) or ``union`` for a
    union of several non-null types."""
    nullable: bool
    schema: Any
    """The resolved (non-null) type: a dict for named and complex types, else its name."""


def named_types(schema: Any) -> dict[str, Any]:
    """Every named type (record, enum, fixed) defined in ``schema``, by full and short name."""
    found: dict[str, Any] = {}

    def walk(s: Any, namespace: str | None) -> None:
        if isinstance(s, list):
            for branch in s:
                walk(branch, namespace)
        elif isinstance(s, dict):
            kind = s.get("type")
            if kind in ("record", "error", "enum", "fixed") and "name" in s:
                name, space = s["name"], s.get("namespace", namespace)
                full = name if "." in name or not space else f"{space}.{name}"
                found[full] = s
                found.setdefault(full.rpartition(".")[2], s)
                namespace = full.rpartition(".")[0] or None
            for field in s.get("fields", ()):
                walk(field.get("type"), namespace)
            for key in ("items", "values"):
                walk(s.get(key), namespace)
            if isinstance(kind, dict | list):
                walk(kind, namespace)

    walk(schema, None)
    return found


def kind_of(avro_type: Any, names: dict[str, Any]) -> Kind:
    """The kind of ``avro_type``, resolving named references with ``names``."""
    nullable = False
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        nullable = len(branches) < len(avro_type)
        if len(branches) != 1:
            return Kind("union" if branches else "null", nullable, avro_type)
        avro_type = branches[0]
    if isinstance(avro_type, str) and avro_type in names:
        avro_type = names[avro_type]
    if isinstance(avro_type, dict):
        inner = avro_type.get("type")
        if isinstance(inner, dict | list) or (isinstance(inner, str) and inner in names):
            deeper = kind_of(inner, names)
            return Kind(deeper.name, nullable or deeper.nullable, deeper.schema)
        return Kind("record" if inner == "error" else str(inner), nullable, avro_type)
    return Kind(str(avro_type), nullable, avro_type)


def fields_by_path(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's fields by dotted path (``a.b`` for field ``b`` of record field ``a``)."""
    names = named_types(schema)
    out: dict[str, dict[str, Any]] = {}

    def walk(record: dict[str, Any], prefix: str, depth: int) -> None:
        for field in record.get("fields", ()):
            path = prefix + field["name"]
            out[path] = field
            kind = kind_of(field.get("type"), names)
            if kind.name == "record" and depth < 32:
                walk(kind.schema, path + ".", depth + 1)

    walk(schema, "", 0)
    return out


@dataclass(frozen=True)
class Encoded:
    """A column ready for ``create_dataset``: values in the file's form, its type, encoding."""

    values: np.ndarray
    dtype: Any
    encoding: str


def encode(column: Column, kind: Kind, names: dict[str, Any]) -> Encoded:
    """The dataset form of ``column`` (see the module's docstring)."""
    values = column.values
    if column.symbols is not None:
        enum = h5py.enum_dtype({s: i for i, s in enumerate(column.symbols)}, values.dtype)
        return Encoded(values.view(enum), enum, "native")
    if values.dtype.kind in "biufV":
        return Encoded(values, values.dtype, "native")
    if values.dtype.kind in "TU" or kind.name == "string":
        return Encoded(_as_strings(values), _UTF8, "utf8")
    if kind.name in PRIMITIVE_DTYPES:
        dtype = PRIMITIVE_DTYPES[kind.name]
        return Encoded(np.asarray(values, dtype=dtype), dtype, "native")
    if kind.name == "bytes":
        return Encoded(_byte_sequences(values), h5py.vlen_dtype(np.uint8), "bytes")
    item = kind_of(kind.schema.get("items"), names) if kind.name == "array" else None
    if item is not None and not item.nullable and item.name in PRIMITIVE_DTYPES:
        dtype = PRIMITIVE_DTYPES[item.name]
        return Encoded(_sequences(values, dtype), h5py.vlen_dtype(dtype), "vlen")
    return Encoded(_json_texts(values), _UTF8, "json")


def _as_strings(values: np.ndarray) -> np.ndarray:
    """Strings as numpy StringDType: h5py writes those to variable-length strings about twice
    as fast as an object array (docs/decisions/2026-12-01-hdf5-export-layout.md)."""
    if values.dtype.kind == "T":
        return values
    out = values.astype(_STRINGS)
    nulls = np.isnan(out)
    if nulls.any():
        out[nulls] = ""
    return out


def _byte_sequences(values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = np.frombuffer(v or b"", dtype=np.uint8)
    return out


def _sequences(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = np.asarray(v if v is not None else (), dtype=dtype)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _json_texts(values: np.ndarray) -> np.ndarray:
    texts = [json.dumps(v, default=_json_default, ensure_ascii=False) for v in values]
    return np.array(texts, dtype=_STRINGS)


def decode(dataset: h5py.Dataset) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """A signal's values as read from its dataset (the inverse of :func:`encode`: strings
    and bytes as object arrays of ``str``/``bytes``, enums as their indexes with the symbols,
    ``json`` values parsed) and, for an enum, its symbols in index order."""
    encoding = _text(dataset.attrs.get("encoding", "native"))
    if encoding == "utf8":
        return dataset.asstr()[()], None
    if encoding == "json":
        return _objects([json.loads(t) for t in dataset.asstr()[()]]), None
    if encoding == "bytes":
        return _objects([bytes(v) for v in dataset[()]]), None
    values = dataset[()]
    mapping = h5py.check_enum_dtype(dataset.dtype)
    if mapping is None or dataset.dtype.kind == "b":
        return values, None
    symbols = tuple(sorted(mapping, key=mapping.__getitem__))
    return values.view(np.dtype(values.dtype.str)), symbols


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
