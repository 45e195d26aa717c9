"""speeddata.schema: loading schemas (the relay judges them), the archive schema the relay
builds, and the time unit rules."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import fastavro
import pytest

from speeddata.config import ROOT, load_settings
from speeddata.schema import (
    RX_TIME_FIELD,
    SchemaError,
    archive_schema,
    check_schema,
    load_schema,
    read_schema,
    time_unit,
)


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "r", "fields": list(fields)}


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
    assert read_schema('"int"') == "int"  # not judged: no channel schema, but JSON
    with pytest.raises(SchemaError, match="schema text is not JSON"):
        read_schema('{"type": "record",')
    example = load_schema(ROOT / "config" / "agents" / "example.avsc")
    assert isinstance(example, dict) and example["name"] == "data"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no/such/file.avsc", "cannot read"),
        ('{"type": "record",', "not valid JSON"),
        (_record({"name": "a", "type": "nope"}), 'unknown type "nope"'),
        (_record({"name": "a", "type": {"type": "enum", "name": "e", "symbols": ["1x"]}}), "enum"),
        (_record({"name": "a", "type": {"type": "fixed", "name": "f"}}), '"size"'),
        ('"int"', "not a record"),
        ({"type": "enum", "name": "e", "symbols": ["A"]}, "not a record"),
        (42, "a schema is"),
    ],
)
def test_load_schema_errors_are_schema_errors(source: Any, message: str):
    with pytest.raises(SchemaError, match=message):
        load_schema(source)
    with pytest.raises(SchemaError, match=message):
        check_schema(source)


def test_an_error_names_the_file_and_the_relay_s_reason(tmp_path: Path):
    path = tmp_path / "dup.avsc"
    path.write_text(json.dumps(_record({"name": "a", "type": "int"}, {"name": "a", "type": "int"})))
    with pytest.raises(SchemaError) as caught:
        load_schema(path)
    assert str(caught.value) == f'schema {path}: field "a" is declared twice'


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
    fastavro.parse_schema(archived)  # readers can read it


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('"int"', "not a record"),
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
    fastavro.parse_schema(got)  # readers can read it


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
        ("missing", None, 'time field "missing" is not a field of the record'),
        ("value", None, 'time field "value" is not a long'),
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
    with pytest.raises(SchemaError, match='without a "fields" array'):
        archive_schema({"type": "record", "name": "x"})


def test_a_missing_relay_is_a_one_line_schema_error(tmp_path: Path):
    settings = load_settings(environ={}).override(relay={"binary": str(tmp_path / "nope")})
    with pytest.raises(SchemaError, match=r"relay .*nope is missing \(run `make relay`\)"):
        load_schema(CHANNEL, settings=settings)


def test_the_relay_is_asked_once_per_schema(tmp_path: Path, relay_binary: Path):
    """load_schema then time_unit of the same text (as the catalog does) run the relay once;
    another text, or the relay rebuilt, asks again."""
    calls = tmp_path / "calls"
    wrapper = tmp_path / "relay"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {relay_binary} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    settings = load_settings(environ={}).override(relay={"binary": str(wrapper)})
    text = json.dumps({**CHANNEL, "doc": f"asked once {tmp_path}"})
    load_schema(text, time_field="t_ms", settings=settings)
    assert time_unit(text, "t_ms", settings=settings) == "ms"
    assert len(calls.read_text().splitlines()) == 1
    load_schema(text + " ", time_field="t_ms", settings=settings)
    os.utime(wrapper, ns=(0, wrapper.stat().st_mtime_ns + 1_000_000_000))
    load_schema(text, time_field="t_ms", settings=settings)
    assert len(calls.read_text().splitlines()) == 3
