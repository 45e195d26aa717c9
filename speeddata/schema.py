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
"""The field the relay puts first in every archived record (as native/zmq_relay/src/schema.c
writes it)."""

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
    as the first field, every other attribute kept. Raises :class:`SchemaError` when the
    channel schema is not a record or already has a reserved field."""
    schema = load_schema(channel_schema)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaError("a channel schema must be an Avro record")
    reserved = RESERVED_FIELDS & {f.get("name") for f in schema["fields"]}
    if reserved:
        raise SchemaError(f"field name {sorted(reserved)[0]!r} is reserved for the archive")
    archived = copy.deepcopy(schema)
    archived["fields"] = [copy.deepcopy(RX_TIME_FIELD), *archived["fields"]]
    return archived


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
