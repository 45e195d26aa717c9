"""speeddata.events: the bus event codec and the listing of topics and counters in proto/."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from speeddata import events
from speeddata.events import EventError, assert_event_listed, batch_records, decode, encode
from speeddata.schema import fingerprint_bytes


def sample(schema: Any) -> Any:
    """A value of every kind the schema allows, so a round trip exercises each field."""
    if isinstance(schema, list):
        return sample(schema[-1])
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return {f["name"]: sample(f["type"]) for f in schema["fields"]}
        if kind == "enum":
            return schema["symbols"][-1]
        if kind == "array":
            return [sample(schema["items"])] * 2
        if kind == "map":
            return {"a": sample(schema["values"])}
        return sample(kind)
    values = {"string": "héllo", "long": -(2**40), "int": 7, "double": 2.5, "boolean": True}
    return values.get(schema, b"\x00\xff")


def test_every_schema_round_trips_with_its_fingerprint_header() -> None:
    assert set(events.schemas()) >= {"RelayStatus", "BusStatus", "IngestRelay", "RegistryChannel"}
    for name, s in events.schemas().items():
        fields = sample(s.schema)
        payload = encode(name, fields)
        assert payload[:2] == b"\xc3\x01"
        assert payload[2:10] == fingerprint_bytes(s.schema)
        assert decode(payload) == (name, fields)


def test_encode_by_topic_and_full_name() -> None:
    fields = sample(events.schemas()["RelayStatus"].schema)
    by_topic = encode("relay.status.example", fields)
    assert (
        by_topic == encode("RelayStatus", fields) == encode("speeddata.events.RelayStatus", fields)
    )


def test_timestamps_stay_nanosecond_ints() -> None:
    fields = sample(events.schemas()["BusStatus"].schema)
    fields["time"] = 1_700_000_000_123_456_789
    assert decode(encode("bus.status", fields))[1]["time"] == 1_700_000_000_123_456_789


@pytest.mark.filterwarnings("ignore::avro.errors.IgnoredLogicalType")
def test_an_independent_avro_implementation_writes_the_same_payload() -> None:
    s = events.schemas()["RegistryChannel"]
    fields = sample(s.schema)
    apache = avro.schema.parse(json.dumps(s.schema))
    body = io.BytesIO()
    avro.io.DatumWriter(apache).write(fields, avro.io.BinaryEncoder(body))
    payload = encode("registry.channel.x", fields)
    assert payload == b"\xc3\x01" + s.fingerprint + body.getvalue()
    assert decode(b"\xc3\x01" + s.fingerprint + body.getvalue()) == ("RegistryChannel", fields)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda p: p[:-1], "not a valid record"),
        (lambda p: p + b"\x00", "trailing"),
        (lambda p: p[:9], "no C3 01 header"),
        (lambda p: b"\x00\x01" + p[2:], "no C3 01 header"),
        (
            lambda p: p[:2] + b"\x00" * 8 + p[10:],
            "unknown event schema fingerprint 0000000000000000",
        ),
    ],
)
def test_bad_payloads_are_clear_errors(cut: Any, message: str) -> None:
    payload = encode("bus.status", sample(events.schemas()["BusStatus"].schema))
    with pytest.raises(EventError, match=message):
        decode(cut(payload))


def test_garbage_never_crashes_the_decoder() -> None:
    payload = bytearray(encode("ingest.relay.x", sample(events.schemas()["IngestRelay"].schema)))
    for i in range(10, len(payload)):
        for value in (0x00, 0x7F, 0x80, 0xFF):
            mutated = bytes(payload[:i]) + bytes([value]) + bytes(payload[i + 1 :])
            with contextlib.suppress(EventError):
                decode(mutated)


@pytest.mark.parametrize(
    ("topic", "change", "message"),
    [
        ("bus.nothing", {}, "not listed in proto/topics.yaml"),
        ("relay.status", {}, "not listed"),
        ("bus.status", {"extra": 1}, r"unknown fields \['extra'\]"),
        ("bus.status", {"xsub": None}, "xsub"),
        ("bus.status", {"seq": "one"}, "seq"),
    ],
)
def test_bad_events_are_clear_errors(topic: str, change: dict[str, Any], message: str) -> None:
    fields = {**sample(events.schemas()["BusStatus"].schema), **change}
    with pytest.raises(EventError, match=message):
        encode(topic, fields)


def test_missing_fields_are_named() -> None:
    fields = sample(events.schemas()["BusStatus"].schema)
    del fields["xpub"]
    with pytest.raises(EventError, match=r"missing fields \['xpub'\]"):
        encode("bus.status", fields)


def _all_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in schema["fields"]:
        out.append(f)
        for t in f["type"] if isinstance(f["type"], list) else [f["type"]]:
            items = t.get("items") if isinstance(t, dict) else None
            if isinstance(items, dict) and items.get("type") == "record":
                out += _all_fields(items)
    return out


def test_every_schema_has_the_common_fields_and_documents_every_field() -> None:
    for name, s in events.schemas().items():
        common = [(f["name"], f["type"]) for f in s.schema["fields"][:3]]
        assert common == [
            ("source", "string"),
            ("seq", "long"),
            ("time", {"type": "long", "logicalType": "timestamp-nanos"}),
        ], name
        assert s.schema.get("doc"), f"{name} has no doc"
        undocumented = [f["name"] for f in _all_fields(s.schema) if not f.get("doc")]
        assert not undocumented, f"{name}: fields without doc: {undocumented}"


def test_every_schema_is_carried_by_a_listed_topic() -> None:
    carried = {spec.schema for spec in events.topics()}
    assert carried == set(events.schemas())


def test_every_counter_of_every_schema_is_listed_and_every_listed_counter_exists() -> None:
    for spec in events.topics():
        if spec.counters is None:
            continue
        fields = set(events.counter_fields(events.schemas()[spec.schema]))
        listed = set(events.listing()[spec.counters])
        assert fields == listed, (
            f"{spec.pattern}: unlisted {fields - listed}, stale {listed - fields}"
        )
    by_pattern = {spec.pattern: spec for spec in events.topics()}
    assert by_pattern["bus.status"].counters == "bus_counters"
    assert by_pattern["relay.status.<channel>"].counters == "relay_counters"
    assert by_pattern["ingest.relay.<channel>"].counters == "ingest_counters"


def test_cached_topics_are_the_contracts() -> None:
    cached = {spec.pattern for spec in events.topics() if spec.cached}
    assert cached == {
        "relay.status.<channel>",
        "ingest.relay.<channel>",
        "registry.snapshot",
        "bus.status",
    }
    assert all(spec.beat_s > 0 for spec in events.topics())


def test_assert_event_listed_catches_what_is_not_listed() -> None:
    status = sample(events.schemas()["RelayStatus"].schema)
    status["rejected"] = {"utf8": 2, "truncated": 1}
    assert_event_listed("relay.status.example", status)
    status["rejected"]["cosmic_ray"] = 1
    with pytest.raises(AssertionError, match="rejected 'cosmic_ray' is not listed"):
        assert_event_listed("relay.status.example", status)
    error = {**sample(events.schemas()["RelayError"].schema), "kind": "write"}
    assert_event_listed("relay.error.example", error)
    with pytest.raises(AssertionError, match="kind 'gremlins'"):
        assert_event_listed("relay.error.example", {**error, "kind": "gremlins"})
    with pytest.raises(AssertionError, match="not listed"):
        assert_event_listed("relay.mood.example", error)
    with pytest.raises(AssertionError, match="not in RelayError"):
        assert_event_listed("relay.error.example", {**error, "mood": "fine"})


def test_batch_records_decodes_exactly_count_records() -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "r", "fields": [{"name": "rx_time", "type": "long"}]}
    )
    body = io.BytesIO()
    for t in (1, 2, 3):
        fastavro.schemaless_writer(body, schema, {"rx_time": t})
    data = body.getvalue()
    assert batch_records({"count": 3, "records": data}, schema) == [
        {"rx_time": 1},
        {"rx_time": 2},
        {"rx_time": 3},
    ]
    with pytest.raises(EventError, match="bytes after 2 records"):
        batch_records({"count": 2, "records": data}, schema)
    with pytest.raises(EventError, match="do not match"):
        batch_records({"count": 4, "records": data}, schema)
