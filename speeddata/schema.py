"""Channel schemas: loading them, the archive schema derived from them, and the unit of a
channel's time field (the contract's "Time" rules)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import SchemaParseException

from speeddata.channels import RESERVED_FIELDS

Schema = dict[str, Any] | list[Any] | str
"""An Avro schema as parsed JSON: a record (dict), a union (list) or a type name (str)."""

TIME_UNITS = ("s", "ms", "us", "ns")

RX_TIME_FIELD: dict[str, Any] = {
    "name": "rx_time",
    "type": {"type": "long", "logicalType": "timestamp-nanos"},
    "doc": "Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch",
}
"""The field the relay puts first in every archived record (as
native/zmq_relay/src/archive_schema.c writes it)."""

_LOGICAL_UNITS = {"timestamp-millis": "ms", "timestamp-micros": "us", "timestamp-nanos": "ns"}


class SchemaError(ValueError):
    """A schema that cannot be used: unreadable, not JSON, or not a valid Avro schema."""


def load_schema(source: Schema | Path) -> Schema:
    """The schema as parsed JSON, from parsed JSON, JSON text, or the path of an ``.avsc`` file.

    A ``str`` is read as JSON text when it starts with ``{``, ``[`` or ``"``, else as a path.
    Raises :class:`SchemaError` when the file cannot be read, the text is not JSON, or the
    result is not a valid Avro schema (checked with ``fastavro.parse_schema``)."""
    if isinstance(source, Path):
        schema = _parse_json(_read_text(source), str(source))
    elif isinstance(source, str):
        text = source.lstrip()
        if text.startswith(("{", "[", '"')):
            schema = _parse_json(text, "schema text")
        else:
            schema = _parse_json(_read_text(Path(source)), source)
    elif isinstance(source, dict | list):
        schema = source
    else:
        raise SchemaError(f"a schema is a dict, JSON text or a path, not {type(source).__name__}")
    check_schema(schema)
    return schema


def check_schema(schema: Any) -> None:
    """Raise :class:`SchemaError` unless ``schema`` (parsed JSON) is a valid Avro schema."""
    try:
        parse_schema(schema, _write_hint=False)
    except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SchemaError(f"not a valid Avro schema: {exc}") from exc


def archive_schema(channel_schema: Schema | Path) -> dict[str, Any]:
    """The archive schema of a channel: its record with ``rx_time`` (long, timestamp-nanos)
    as the first field, every other attribute kept.

    A recursive channel record (one that refers to its own name inside) gets a new archive
    record instead, so that its nested records stay channel records without ``rx_time``: named
    ``<name>_archive`` (``_archive`` added again while the name is taken), without the
    channel's aliases, with the channel record's definition at its first reference (in
    document order); every named type is then defined at its first occurrence and referred
    to by full name after. This is the text the relay writes
    (native/zmq_relay/src/archive_schema.c).

    Raises :class:`SchemaError` when the channel schema is not a record or already has a
    reserved field."""
    schema = load_schema(channel_schema)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaError("a channel schema must be an Avro record")
    if not isinstance(schema.get("fields"), list):
        raise SchemaError("a channel record needs a list of fields")
    reserved = RESERVED_FIELDS & {f.get("name") for f in schema["fields"]}
    if reserved:
        raise SchemaError(f"field name {sorted(reserved)[0]!r} is reserved for the archive")
    archived = copy.deepcopy(schema)
    archived["fields"] = [copy.deepcopy(RX_TIME_FIELD), *archived["fields"]]
    return _recursive_archive(schema, copy.deepcopy(archived)) or archived


_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "enum", "fixed"})


def _full_name(named: dict[str, Any], namespace: str) -> str:
    """The full name of a named type defined in ``namespace`` (as the relay resolves it)."""
    name: str = named["name"]
    if "." in name:
        return name
    namespace = named.get("namespace", namespace)
    return f"{namespace}.{name}" if namespace else name


def _space(full_name: str) -> str:
    return full_name.rpartition(".")[0]


def _declared(schema: Any, namespace: str, names: set[str]) -> None:
    """Adds the full names of the named types defined in ``schema`` to ``names``."""
    if isinstance(schema, list):
        for branch in schema:
            _declared(branch, namespace, names)
    elif isinstance(schema, dict) and schema.get("type") in _NAMED:
        full = _full_name(schema, namespace)
        names.add(full)
        for field in schema.get("fields", []):
            _declared(field["type"], _space(full), names)
    elif isinstance(schema, dict) and schema.get("type") in ("array", "map"):
        _declared(schema["items" if schema["type"] == "array" else "values"], namespace, names)


class _Rewrite:
    """The document-order rewrite of a recursive channel's outer archive record."""

    def __init__(self, channel: dict[str, Any], declared: set[str]) -> None:
        self.channel = channel
        self.full = _full_name(channel, "")
        self.declared = declared
        self.defined: set[str] = set()
        self.inlined = False

    def schema(self, schema: Any, namespace: str) -> Any:
        """``schema`` as it is to be written at its place (may be a new value)."""
        if isinstance(schema, list):
            return [self.schema(branch, namespace) for branch in schema]
        type_name = schema if isinstance(schema, str) else schema.get("type")
        if type_name in _PRIMITIVES:
            return schema
        if isinstance(schema, dict) and type_name in ("array", "map"):
            key = "items" if type_name == "array" else "values"
            schema[key] = self.schema(schema[key], namespace)
            return schema
        if isinstance(schema, dict) and type_name in _NAMED:
            return self.define(schema, namespace)
        if self.inlined or self.resolve(type_name, namespace) != self.full:
            return schema
        definition = copy.deepcopy(self.channel)
        if not _space(self.full) and namespace and "namespace" not in definition:
            definition["namespace"] = ""  # in another namespace, the null one must be named
        self.inlined = True
        return self.define(definition, namespace)

    def define(self, named: dict[str, Any], namespace: str) -> Any:
        """A named type's first definition stays; a later one becomes its full name."""
        full = _full_name(named, namespace)
        if full in self.defined:
            return full
        self.defined.add(full)
        for field in named.get("fields", []):
            field["type"] = self.schema(field["type"], _space(full))
        return named

    def resolve(self, name: str, namespace: str) -> str:
        """The full name a reference stands for (the enclosing namespace first, if declared)."""
        if "." not in name and namespace and f"{namespace}.{name}" in self.declared:
            return f"{namespace}.{name}"
        return name


def _recursive_archive(channel: dict[str, Any], archived: dict[str, Any]) -> dict[str, Any] | None:
    """The archive record of a recursive channel record, built from ``archived`` (a copy of
    the plain archive record it may change), or None when the channel record is not one."""
    declared: set[str] = set()
    _declared(channel, "", declared)
    name = channel["name"] + "_archive"
    while _full_name({**channel, "name": name}, "") in declared:
        name += "_archive"
    archived["name"] = name
    archived.pop("aliases", None)
    rewrite = _Rewrite(channel, declared)
    rewrite.define(archived, "")
    return archived if rewrite.inlined else None


def time_unit(schema: Schema | Path, time_field: str | None, fallback: str | None = None) -> str:
    """The unit (``s|ms|us|ns``) of a channel's time field: the field type's logicalType
    (``timestamp-millis|micros|nanos``), else a logicalType on the field itself, else
    ``fallback`` (the channel's ``time_unit`` setting), else ``ns``. With no time field the
    answer is ``fallback`` or ``ns`` (what the relay writes to ``speeddata.time_unit``).

    Raises :class:`SchemaError` when the field is missing or not a long, or the fallback is not
    one of the units."""
    if fallback is not None and fallback not in TIME_UNITS:
        raise SchemaError(f"time unit {fallback!r} is not one of {', '.join(TIME_UNITS)}")
    if time_field is None:
        return fallback or "ns"
    field = _field(load_schema(schema), time_field)
    ftype = field["type"]
    type_name = ftype.get("type") if isinstance(ftype, dict) else ftype
    if type_name != "long":
        raise SchemaError(f"time field {time_field!r} must be a long, not {json.dumps(ftype)}")
    for logical in (
        ftype.get("logicalType") if isinstance(ftype, dict) else None,
        field.get("logicalType"),
    ):
        if logical in _LOGICAL_UNITS:
            return _LOGICAL_UNITS[logical]
    return fallback or "ns"


def _field(schema: Schema, name: str) -> dict[str, Any]:
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    for field in fields:
        if field.get("name") == name:
            return field  # type: ignore[no-any-return]
    raise SchemaError(f"the schema has no field {name!r}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from exc


def _parse_json(text: str, where: str) -> Schema:
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{where} is not JSON: {exc}") from exc
