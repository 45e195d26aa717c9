"""speeddata.schema: loading schemas, the archive schema, and the time unit rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from speeddata.config import ROOT
from speeddata.schema import RX_TIME_FIELD, SchemaError, archive_schema, load_schema, time_unit

CHANNEL: dict[str, Any] = {
    "type": "record",
    "name": "data",
    "namespace": "speeddata.example",
    "doc": "a channel",
    "custom": {"kept": True},
    "fields": [
        {"name": "time", "type": "long", "logicalType": "timestamp-nanos", "doc": "t"},
        {"name": "t_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "t_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "t_ns", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
        {
            "name": "both",
            "type": {"type": "long", "logicalType": "timestamp-micros"},
            "logicalType": "timestamp-millis",
        },
        {"name": "plain", "type": "long"},
        {"name": "other", "type": "long", "logicalType": "duration-ish"},
        {"name": "value", "type": "double"},
    ],
}


def test_load_schema_from_dict_text_and_path(tmp_path: Path):
    path = tmp_path / "c.avsc"
    path.write_text(json.dumps(CHANNEL))
    for source in (CHANNEL, json.dumps(CHANNEL), "  " + json.dumps(CHANNEL), path, str(path)):
        assert load_schema(source) == CHANNEL
    assert load_schema('"int"') == "int"
    example = load_schema(ROOT / "config" / "agents" / "example.avsc")
    assert isinstance(example, dict) and example["name"] == "data"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no/such/file.avsc", "cannot read"),
        ('{"type": "record",', "not JSON"),
        ({"type": "record", "name": "r", "fields": [{"name": "a", "type": "nope"}]}, "valid Avro"),
        ({"type": "enum", "name": "e", "symbols": ["1x"]}, "valid Avro"),
        ({"type": "fixed", "name": "f"}, "valid Avro"),
        (42, "a schema is"),
    ],
)
def test_load_schema_errors_are_schema_errors(source: Any, message: str):
    with pytest.raises(SchemaError, match=message):
        load_schema(source)


def test_load_schema_of_a_file_that_is_not_text(tmp_path: Path):
    path = tmp_path / "bin.avsc"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(path)


def test_archive_schema_puts_rx_time_first_and_keeps_everything_else():
    archived = archive_schema(CHANNEL)
    assert archived["fields"][0] == RX_TIME_FIELD
    assert archived["fields"][0]["type"] == {"type": "long", "logicalType": "timestamp-nanos"}
    assert archived["fields"][1:] == CHANNEL["fields"]
    assert {k: v for k, v in archived.items() if k != "fields"} == {
        k: v for k, v in CHANNEL.items() if k != "fields"
    }
    assert CHANNEL["fields"][0]["name"] == "time"  # the input is not modified
    load_schema(archived)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('"int"', "must be an Avro record"),
        ({**CHANNEL, "fields": [{"name": "rx_time", "type": "long"}]}, "reserved"),
    ],
)
def test_archive_schema_refuses_non_records_and_reserved_fields(schema: Any, message: str):
    with pytest.raises(SchemaError, match=message):
        archive_schema(schema)


RX = RX_TIME_FIELD
LIST = {
    "type": "record",
    "name": "list",
    "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "list"]}],
}
NODE = {
    "type": "record",
    "name": "node",
    "namespace": "t",
    "aliases": ["old"],
    "doc": "d",
    "fields": [
        {"name": "kind", "type": {"type": "enum", "name": "node_archive", "symbols": ["A", "B"]}},
        {"name": "kids", "type": {"type": "array", "items": "node"}},
        {"name": "again", "type": "node_archive"},
        {
            "name": "w",
            "type": {
                "type": "record",
                "name": "wrap",
                "namespace": "b",
                "fields": [{"name": "n", "type": ["null", "t.node"]}],
            },
        },
    ],
}


def _node_inside(fields: list[Any]) -> dict[str, Any]:
    return {**{k: v for k, v in NODE.items() if k != "fields"}, "fields": fields}


# The first cases of test_recursive_archive_schema (native/zmq_relay/tests/test_validate.c),
# which goes on with forms the relay accepts and fastavro does not.
RECURSIVE = [
    (
        LIST,
        {
            "type": "record",
            "name": "list_archive",
            "fields": [RX, LIST["fields"][0], {"name": "next", "type": ["null", LIST]}],
        },
    ),
    (
        NODE,
        {
            "type": "record",
            "name": "node_archive_archive",  # node_archive is taken (the enum)
            "namespace": "t",
            "doc": "d",
            "fields": [
                RX,
                NODE["fields"][0],
                {
                    "name": "kids",
                    "type": {
                        "type": "array",
                        "items": _node_inside(
                            [
                                {"name": "kind", "type": "t.node_archive"},
                                *NODE["fields"][1:],
                            ]
                        ),
                    },
                },
                NODE["fields"][2],
                {"name": "w", "type": "b.wrap"},
            ],
        },
    ),
]


@pytest.mark.parametrize(("channel", "archived"), RECURSIVE)
def test_archive_schema_of_a_recursive_record_nests_the_channel_record(
    channel: dict[str, Any], archived: dict[str, Any]
):
    before = json.dumps(channel)
    got = archive_schema(channel)
    assert got == archived
    assert json.dumps(got) == json.dumps(archived), "key order differs from the relay's"
    assert json.dumps(channel) == before, "the input was modified"
    load_schema(got)


@pytest.mark.parametrize(
    ("field", "fallback", "unit"),
    [
        ("t_ms", None, "ms"),
        ("t_us", "s", "us"),  # the type's logicalType wins over the setting
        ("t_ns", "ms", "ns"),
        ("both", None, "us"),  # ... and over a logicalType on the field
        ("time", "s", "ns"),  # a logicalType on the field wins over the setting
        ("plain", "ms", "ms"),
        ("plain", None, "ns"),
        ("other", "us", "us"),  # not a timestamp logicalType: ignored
        (None, None, "ns"),
        (None, "s", "s"),
    ],
)
def test_time_unit_resolution(field: str | None, fallback: str | None, unit: str):
    assert time_unit(CHANNEL, field, fallback) == unit


@pytest.mark.parametrize(
    ("field", "fallback", "message"),
    [
        ("missing", None, "no field 'missing'"),
        ("value", None, "must be a long"),
        ("plain", "minutes", "not one of"),
    ],
)
def test_time_unit_errors(field: str, fallback: str | None, message: str):
    with pytest.raises(SchemaError, match=message):
        time_unit(CHANNEL, field, fallback)


def test_time_unit_of_the_demo_channels():
    agents = ROOT / "config" / "agents"
    assert time_unit(agents / "example.avsc", "time") == "ns"
    assert time_unit(agents / "temperature.avsc", "time", "ns") == "ns"


def test_archive_schema_of_a_record_without_fields_is_a_schema_error():
    with pytest.raises(SchemaError, match="list of fields"):
        archive_schema({"type": "record", "name": "x"})
