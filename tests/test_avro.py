"""speeddata._avro: logical types removed wherever a type can be, nothing else."""

from __future__ import annotations

import io
from typing import Any

import fastavro

from speeddata._avro import without_logical_types
from speeddata.schema import fingerprint

MILLIS = {"type": "long", "logicalType": "timestamp-millis"}
SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "r",
    "fields": [
        {"name": "a", "type": MILLIS, "doc": "kept"},
        {"name": "b", "type": ["null", MILLIS]},
        {"name": "c", "type": {"type": "array", "items": MILLIS}},
        {"name": "d", "type": {"type": "map", "values": MILLIS}},
        {"name": "e", "type": "long", "logicalType": "timestamp-nanos"},
        {
            "name": "f",
            "type": {"type": "record", "name": "n", "fields": [{"name": "g", "type": MILLIS}]},
        },
    ],
}
RECORD = {"a": 1, "b": 2, "c": [3], "d": {"k": 4}, "e": 5, "f": {"g": 6}}


def test_every_timestamp_decodes_as_the_stored_int() -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(SCHEMA), RECORD)
    plain = without_logical_types(SCHEMA)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, fastavro.parse_schema(plain), None) == RECORD
    assert "logicalType" not in str(plain).replace("'logicalType': 'timestamp-nanos'", "")
    assert plain["fields"][0]["doc"] == "kept" and plain["fields"][4]["logicalType"]
    assert fingerprint(plain) == fingerprint(SCHEMA)
    assert SCHEMA["fields"][0]["type"] is MILLIS and MILLIS["logicalType"]  # input untouched
