"""Bus events: the schemas of ``proto/*.avsc``, the topics of ``proto/topics.yaml``, and the
codec between an event's fields and its payload.

A payload is one Avro single-object-encoded event: ``C3 01``, the 8-byte CRC-64-AVRO
fingerprint of the event schema's Parsing Canonical Form, then the Avro binary record. The
fingerprint names the schema, so :func:`decode` needs nothing but the payload. Timestamps
(``logicalType: timestamp-nanos``) stay plain ints of nanoseconds in decoded events."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

from speeddata._avro import without_logical_types
from speeddata.config import ROOT
from speeddata.schema import fingerprint_bytes

PROTO_DIR = ROOT / "proto"
MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8
COMMON_FIELDS = ("source", "seq", "time")
"""Fields every event has: the publishing process, its event number and the event's time."""


class EventError(ValueError):
    """An event that cannot be encoded or decoded, or a topic that is not listed; says why."""


@dataclass(frozen=True)
class EventSchema:
    """One event type of ``proto/``."""

    name: str
    schema: dict[str, Any]
    fingerprint: bytes
    parsed: Any

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f["name"] for f in self.schema["fields"])


@dataclass(frozen=True)
class TopicSpec:
    """One entry of ``topics.yaml``: a topic pattern such as ``relay.status.<channel>``."""

    pattern: str
    schema: str
    cached: bool
    beat_s: float
    counters: str | None
    keys: dict[str, str]

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.pattern.split("."))

    @property
    def prefix(self) -> str:
        """The literal start of the pattern (``relay.status.``, or the whole fixed topic)."""
        return self.pattern.split("<", 1)[0]

    @property
    def per_channel(self) -> bool:
        """True when the topic names a channel (its last segment is ``<channel>``)."""
        return self.segments[-1] == "<channel>"

    def matches(self, topic: str) -> bool:
        parts = topic.split(".")
        if len(parts) != len(self.segments):
            return False
        return all(
            (p.startswith("<") and p.endswith(">") and bool(t)) or p == t
            for p, t in zip(self.segments, parts, strict=True)
        )


def _load_schema(path: Path) -> EventSchema:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EventError(f"cannot read event schema {path}: {e}") from None
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise EventError(f"{path}: an event schema must be one record")
    missing = [f for f in COMMON_FIELDS if f not in {x["name"] for x in schema["fields"]}]
    if missing:
        raise EventError(f"{path}: event schema lacks the common fields {missing}")
    plain = without_logical_types(schema)
    return EventSchema(
        name=schema["name"],
        schema=schema,
        fingerprint=fingerprint_bytes(schema),
        parsed=parse_schema(plain),
    )


@cache
def schemas() -> dict[str, EventSchema]:
    """Every event schema of ``proto/``, by short name (``RelayStatus``); loaded once."""
    found: dict[str, EventSchema] = {}
    for path in sorted(PROTO_DIR.glob("*.avsc")):
        s = _load_schema(path)
        if s.name in found:
            raise EventError(f"{path}: event schema {s.name} is defined twice")
        found[s.name] = s
    return found


@cache
def _by_fingerprint() -> dict[bytes, EventSchema]:
    out: dict[bytes, EventSchema] = {}
    for s in schemas().values():
        if s.fingerprint in out:
            raise EventError(f"{s.name} and {out[s.fingerprint].name} have one fingerprint")
        out[s.fingerprint] = s
    return out


@cache
def listing() -> dict[str, Any]:
    """``proto/topics.yaml`` as loaded: ``topics`` and the lists of names (counters, ...)."""
    path = PROTO_DIR / "topics.yaml"
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise EventError(f"cannot read {path}: {e}") from None
    return loaded


@cache
def topics() -> tuple[TopicSpec, ...]:
    """Every listed topic pattern, in the order of ``topics.yaml``."""
    out = []
    for pattern, entry in listing()["topics"].items():
        if entry["schema"] not in schemas():
            raise EventError(f"topics.yaml: {pattern} names unknown schema {entry['schema']}")
        out.append(
            TopicSpec(
                pattern=pattern,
                schema=entry["schema"],
                cached=bool(entry.get("cached", False)),
                beat_s=float(entry.get("beat_s", 1)),
                counters=entry.get("counters"),
                keys=dict(entry.get("keys", {})),
            )
        )
    return tuple(out)


def topic_spec(topic: str) -> TopicSpec:
    """The listed pattern a concrete topic belongs to; :class:`EventError` when unlisted."""
    for spec in topics():
        if spec.matches(topic):
            return spec
    raise EventError(f"topic {topic!r} is not listed in proto/topics.yaml")


def schema_of(name_or_topic: str) -> EventSchema:
    """The event schema named ``RelayStatus`` (or ``speeddata.events.RelayStatus``), or the one
    a listed topic carries (``relay.status.example``)."""
    short = name_or_topic.rsplit(".", 1)[-1]
    if name_or_topic in (short, f"speeddata.events.{short}") and short in schemas():
        return schemas()[short]
    return schemas()[topic_spec(name_or_topic).schema]


def encode(name_or_topic: str, fields: dict[str, Any]) -> bytes:
    """The single-object-encoded payload of an event; :class:`EventError` names the fields
    that do not fit the schema (missing, unknown or of the wrong type)."""
    s = schema_of(name_or_topic)
    unknown = sorted(set(fields) - set(s.field_names))
    if unknown:
        raise EventError(f"{s.name}: unknown fields {unknown}")
    missing = [
        f["name"] for f in s.schema["fields"] if f["name"] not in fields and "default" not in f
    ]
    if missing:
        raise EventError(f"{s.name}: missing fields {missing}")
    try:
        validate(fields, s.parsed, raise_errors=True)
    except ValidationError as e:
        raise EventError(
            f"{s.name}: fields do not fit the schema: {'; '.join(map(str, e.errors))}"
        ) from None
    out = io.BytesIO()
    out.write(MAGIC + s.fingerprint)
    schemaless_writer(out, s.parsed, fields)
    return out.getvalue()


def decode(payload: bytes) -> tuple[str, dict[str, Any]]:
    """``(schema name, fields)`` of a payload made by :func:`encode` (or any publisher that
    follows proto/README.md); :class:`EventError` when it is not one whole known event."""
    if len(payload) < HEADER_SIZE or payload[:2] != MAGIC:
        raise EventError("not a single-object-encoded event (no C3 01 header)")
    s = _by_fingerprint().get(bytes(payload[2:HEADER_SIZE]))
    if s is None:
        fp = bytes(payload[2:HEADER_SIZE]).hex()
        raise EventError(f"unknown event schema fingerprint {fp} (not in proto/)")
    body = io.BytesIO(payload[HEADER_SIZE:])
    try:
        fields = schemaless_reader(body, s.parsed, None)
    except Exception as e:  # noqa: BLE001 - untrusted bytes: any reader failure is bad input
        raise EventError(f"{s.name}: payload is not a valid record: {e!r}") from None
    if body.tell() != len(payload) - HEADER_SIZE:
        raise EventError(f"{s.name}: {len(payload) - HEADER_SIZE - body.tell()} trailing bytes")
    return s.name, fields  # type: ignore[return-value]


def batch_schema(archive_schema: dict[str, Any]) -> Any:
    """A channel's archive schema (``rx_time`` first) parsed for :func:`batch_records`, once
    per channel: without its logical types, so values decode raw, as ``speeddata.archive``
    reads them (a device's value outside its logical type's range, such as a microsecond
    clock in a ``timestamp-millis`` field, would otherwise fail the whole batch)."""
    return parse_schema(without_logical_types(archive_schema))


def batch_records(fields: dict[str, Any], parsed_schema: Any) -> list[dict[str, Any]]:
    """The records of a ``data.<channel>`` event (DataBatch ``fields``): ``count`` archive
    records (``rx_time`` first) back to back, decoded with ``parsed_schema``, made by
    :func:`batch_schema`. :class:`EventError` when the bytes are not exactly ``count`` records
    of that schema (the channel's schema changed?)."""
    data = fields["records"]
    buf = io.BytesIO(data)
    out = []
    try:
        for _ in range(fields["count"]):
            out.append(schemaless_reader(buf, parsed_schema, None))
    except Exception as e:  # noqa: BLE001 - bytes from the bus: any reader failure is bad input
        raise EventError(f"records do not match the schema: {e!r}") from None
    if buf.tell() != len(data):
        raise EventError(f"{len(data) - buf.tell()} bytes after {fields['count']} records")
    return out  # type: ignore[return-value]


def counter_fields(schema: EventSchema) -> list[str]:
    """Fields that count or measure: long, double or map-of-long fields other than the common
    ones and timestamps; each must be listed in the topic's ``counters`` list."""
    out = []
    for f in schema.schema["fields"]:
        t = f["type"]
        if f["name"] in COMMON_FIELDS:
            continue
        if t in ("long", "double") or (isinstance(t, dict) and t.get("type") == "map"):
            out.append(f["name"])
    return out


def listing_problems(topic: str, fields: dict[str, Any]) -> list[str]:
    """What in the event is not listed in ``topics.yaml``: the topic, a counter field, a map
    key or value named by ``keys`` (``rejected`` reasons, error ``kind``s). Empty when all is."""
    try:
        spec = topic_spec(topic)
    except EventError as e:
        return [str(e)]
    s = schemas()[spec.schema]
    problems = []
    unknown = sorted(set(fields) - set(s.field_names))
    if unknown:
        problems.append(f"{topic}: fields {unknown} are not in {s.name}")
    if spec.counters is not None:
        listed = listing().get(spec.counters) or {}
        problems += [
            f"{topic}: counter {c} is not listed in {spec.counters}"
            for c in counter_fields(s)
            if c not in listed
        ]
    for field, list_name in spec.keys.items():
        value = fields.get(field)
        names = list(value) if isinstance(value, dict) else [value] if value is not None else []
        allowed = listing().get(list_name) or {}
        problems += [
            f"{topic}: {field} {n!r} is not listed in {list_name}"
            for n in names
            if n not in allowed
        ]
    return problems


def assert_event_listed(topic: str, fields: dict[str, Any]) -> None:
    """Fails (AssertionError) when anything of the event is not listed in ``topics.yaml``:
    tests of every publisher call this on each event they see."""
    problems = listing_problems(topic, fields)
    if problems:
        raise AssertionError("; ".join(problems))
