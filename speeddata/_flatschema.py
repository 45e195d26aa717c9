"""An archive schema as the flat list of columns :mod:`speeddata.columnar` makes of it, and the
same-encoding schema that polars' Avro reader can decode.

A *leaf* is one column: a field of a primitive, enum, fixed or array type, reached through
nested records (``a.b``); a field whose type has no column form (a map, a union of several
non-null types, a recursive record, ``null``) is one leaf of kind ``object``.

polars (2.x) reads Avro with gaps: named-type references, enums inside unions or arrays, maps
and ``null`` fail or panic. :func:`polars_schema` rewrites a schema into one with the *same binary
encoding* that it reads: an enum is its index (``int``), a map is an array of
``{key: string, value}`` records (Avro encodes both as blocks of items), ``null`` an empty
record, references are inlined. Unions of several non-null types and recursive records have no
such rewrite: those schemas return ``None`` and are read by fastavro."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NUMERIC = {
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "boolean": "bool",
}


@dataclass(frozen=True)
class Leaf:
    """One column of a flattened record schema."""

    name: str
    """Dotted path from the top record (``a.b``)."""
    path: tuple[str, ...]
    kind: str
    """``int long float double boolean string bytes fixed enum array object``."""
    avro_type: Any
    """The field's type, named references resolved (logical types and attributes kept)."""
    nullable: bool = False
    """The field, or a record on its path, is a union with ``null``."""
    size: int = 0
    """A ``fixed``'s size."""
    symbols: tuple[str, ...] = ()
    """An ``enum``'s symbols."""
    item: Leaf | None = None
    """An ``array``'s item (an array whose items have no column form is an ``object``)."""
    field: dict[str, Any] | None = None
    """The top-level-or-nested field declaration (its ``default``, ``doc``, ``units``)."""
    default: Any = None
    """The field's default when it has one (see :attr:`has_default`), for schema resolution."""
    has_default: bool = False
    aliases: tuple[str, ...] = ()
    """Other dotted names the field may have in a writer's schema (the ``aliases`` of it and
    of the record fields on its path): Avro's resolution matches those too."""


class Names:
    """Named types of a schema by full name, learnt while walking it in order."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def learn(self, t: dict[str, Any], namespace: str) -> str:
        full = fullname(t["name"], t.get("namespace", namespace))
        self.types.setdefault(full, t)
        self.types.setdefault(full.rpartition(".")[2], t)
        return full

    def lookup(self, name: str, namespace: str) -> dict[str, Any] | None:
        return self.types.get(fullname(name, namespace)) or self.types.get(name)


def fullname(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def type_kind(t: Any) -> str:
    """The Avro kind of a (resolved) type: a primitive name, ``record``, ``union``..."""
    if isinstance(t, list):
        return "union"
    if isinstance(t, dict):
        inner = t.get("type")
        return type_kind(inner) if isinstance(inner, dict | list) else str(inner)
    return str(t)


def nullable_branch(t: list[Any]) -> Any | None:
    """The non-null branch of a two-branch union with ``null``, else ``None``."""
    if len(t) != 2 or "null" not in t:
        return None
    other = t[1] if t[0] == "null" else t[0]
    return None if other == "null" else other


def names_of(schema: Any) -> Names:
    """Every named type defined in ``schema``."""
    names = Names()
    _walk_named(schema, names, "")
    return names


def flatten(schema: dict[str, Any]) -> list[Leaf]:
    """The leaves of a record schema, in field order."""
    names = Names()
    ns = schema.get("namespace", "")
    names.learn(schema, ns)
    out: list[Leaf] = []
    top = {fullname(schema["name"], ns)}
    _record_leaves(schema, (), False, names, _ns_of(schema, ns), top, out, _NO_DEFAULT)
    return out


_NO_DEFAULT: tuple[bool, Any] = (False, None)


def _field_default(f: dict[str, Any], outer: tuple[bool, Any]) -> tuple[bool, Any]:
    """A field's default: its own, else its part of a default of the record field it is in."""
    if "default" in f:
        return True, f["default"]
    has, value = outer
    if has and isinstance(value, dict) and f["name"] in value:
        return True, value[f["name"]]
    if has and value is None:
        return True, None
    return _NO_DEFAULT


def _ns_of(t: dict[str, Any], namespace: str) -> str:
    full = fullname(t["name"], t.get("namespace", namespace))
    return full.rpartition(".")[0]


def _record_leaves(
    record: dict[str, Any],
    prefix: tuple[str, ...],
    nullable: bool,
    names: Names,
    ns: str,
    stack: set[str],
    out: list[Leaf],
    outer: tuple[bool, Any],
    others: tuple[tuple[str, ...], ...] = (),
) -> None:
    for f in record.get("fields", []):
        path = (*prefix, f["name"])
        aliases = [a for a in f.get("aliases", ()) if isinstance(a, str)]
        alt = tuple((*p, f["name"]) for p in others)
        alt += tuple((*p, a) for p in (prefix, *others) for a in aliases)
        default = _field_default(f, outer)
        t, ns_t = _resolve(f["type"], names, ns)
        null = nullable
        if isinstance(t, list) and nullable_branch(t) is not None:
            t, ns_t = _resolve(nullable_branch(t), names, ns)
            null = True
        if isinstance(t, dict) and t.get("type") == "record":
            full = fullname(t["name"], t.get("namespace", ns))
            if full not in stack:
                _walk_named(t, names, ns)
                inner_ns = _ns_of(t, ns)
                inner = stack | {full}
                _record_leaves(t, path, null, names, inner_ns, inner, out, default, alt)
                continue
        leaf = _leaf(path, t, null, f, names, ns_t, stack)
        dotted = tuple(".".join(a) for a in alt)
        out.append(replace(leaf, has_default=default[0], default=default[1], aliases=dotted))


def _resolve(t: Any, names: Names, ns: str) -> tuple[Any, str]:
    """A type with a named reference replaced by its definition (and the namespace in force)."""
    if isinstance(t, str) and t not in PRIMITIVES:
        found = names.lookup(t, ns)
        if found is not None:
            return found, _ns_of(found, ns)
    if isinstance(t, dict) and t.get("type") in PRIMITIVES:
        return t, ns
    if isinstance(t, dict) and isinstance(t.get("name"), str):
        names.learn(t, ns)
        return t, _ns_of(t, ns)
    return t, ns


def _walk_named(t: Any, names: Names, ns: str) -> None:
    """Learn every named type defined inside ``t`` (so later references resolve)."""
    if isinstance(t, list):
        for b in t:
            _walk_named(b, names, ns)
        return
    if not isinstance(t, dict):
        return
    if isinstance(t.get("type"), dict | list):
        _walk_named(t["type"], names, ns)
        return
    if isinstance(t.get("name"), str) and t.get("type") in ("record", "enum", "fixed", "error"):
        names.learn(t, ns)
        ns = _ns_of(t, ns)
    for f in t.get("fields", []):
        _walk_named(f["type"], names, ns)
    for key in ("items", "values"):
        if key in t:
            _walk_named(t[key], names, ns)


def _leaf(
    path: tuple[str, ...],
    t: Any,
    nullable: bool,
    f: dict[str, Any] | None,
    names: Names,
    ns: str,
    stack: set[str],
) -> Leaf:
    _walk_named(t, names, ns)
    kind = type_kind(t)
    common: dict[str, Any] = {"name": ".".join(path), "path": path, "avro_type": t}
    common["nullable"] = nullable
    if f is not None:
        common["field"] = f
    if kind in NUMERIC or kind in ("string", "bytes"):
        return Leaf(kind=kind, **common)
    if kind == "fixed":
        return Leaf(kind="fixed", size=int(t["size"]), **common)
    if kind == "enum":
        return Leaf(kind="enum", symbols=tuple(t["symbols"]), **common)
    if kind == "array":
        items, ns_i = _resolve(t["items"], names, ns)
        item = _leaf(("item",), items, False, None, names, ns_i, stack)
        if item.kind in ("object", "array"):  # items with no column form: values as decoded
            return Leaf(kind="object", **common)
        return Leaf(kind="array", item=item, **common)
    return Leaf(kind="object", **common)


# -- the rewrite for polars -------------------------------------------------------------------


def polars_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """A schema with the binary encoding of ``schema`` that polars reads (see the module's
    documentation), or ``None`` when there is none."""
    names = Names()
    counter = itertools.count()
    try:
        out = _rewrite(schema, names, schema.get("namespace", ""), frozenset(), counter)
    except _Unsupported:
        return None
    return out if isinstance(out, dict) else None


class _Unsupported(Exception):
    pass


def _rewrite(
    t: Any, names: Names, ns: str, stack: frozenset[str], counter: itertools.count[int]
) -> Any:
    if isinstance(t, str):
        if t == "null":
            return {"type": "record", "name": f"_n{next(counter)}", "fields": []}
        if t in PRIMITIVES:
            return t
        found = names.lookup(t, ns)
        if found is None:
            raise _Unsupported(t)
        return _rewrite(found, names, _ns_of(found, ns), stack, counter)
    if isinstance(t, list):
        if nullable_branch(t) is None:
            raise _Unsupported("union")
        return [b if b == "null" else _rewrite(b, names, ns, stack, counter) for b in t]
    kind = t.get("type")
    if isinstance(kind, dict | list):
        return _rewrite(kind, names, ns, stack, counter)
    if kind in PRIMITIVES:
        return _rewrite(kind, names, ns, stack, counter)
    if kind in ("record", "error"):
        full = names.learn(t, ns)
        if full in stack:
            raise _Unsupported("recursive")
        inner_ns, inner = _ns_of(t, ns), stack | {full}
        fields = [
            {"name": f["name"], "type": _rewrite(f["type"], names, inner_ns, inner, counter)}
            for f in t.get("fields", [])
        ]
        return {"type": "record", "name": f"_r{next(counter)}", "fields": fields}
    if kind == "enum":
        names.learn(t, ns)
        return "int"
    if kind == "fixed":
        names.learn(t, ns)
        return {"type": "fixed", "name": f"_f{next(counter)}", "size": t["size"]}
    if kind == "array":
        return {"type": "array", "items": _rewrite(t["items"], names, ns, stack, counter)}
    if kind == "map":
        kv = [
            {"name": "key", "type": "string"},
            {"name": "value", "type": _rewrite(t["values"], names, ns, stack, counter)},
        ]
        pair = {"type": "record", "name": f"_m{next(counter)}", "fields": kv}
        return {"type": "array", "items": pair}
    raise _Unsupported(str(kind))
