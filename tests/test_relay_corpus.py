"""The corpus of archive files the relay wrote (tests/data/relay/, made by make_corpus.py there):
fastavro, Apache avro, avro-c's avrocat and speeddata.archive read every file alike, record for
record, with the header metadata of the contract; and the relay as built now still writes the
same header (schema text and metadata) and the same records for the same schema file, so a
change of what it writes is noticed here before a reader meets it."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import avro.io
import fastavro
import pytest
from avro.datafile import DataFileReader

from speeddata import archive
from speeddata.schema import archive_schema, fingerprint
from tests.data.relay.make_corpus import CORPUS, MAX_BYTES, Entry, write_archive
from tests.relaytools import read_apache, read_avrocat, read_fastavro

TIME_UNITS = {"example": "ns", "all_types": "us", "linked_list": "ns"}
"""The unit the relay resolves for each entry (no time field: the default, ns)."""

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

entries = pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)


def _schema(entry: Entry) -> Any:
    return json.loads(entry.schema_path.read_text(encoding="utf-8"))


def _without_rx(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "rx_time"} for r in records]


# -- avrocat's Avro JSON as plain values -------------------------------------------------------


def _named_types(schema: Any, names: dict[str, Any]) -> dict[str, Any]:
    """Every record, enum and fixed defined in ``schema``, by simple name."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, names)
    elif isinstance(schema, dict):
        if schema["type"] in ("record", "enum", "fixed"):
            names[schema["name"].rsplit(".", 1)[-1]] = schema
        for f in schema.get("fields", []):
            _named_types(f["type"], names)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], names)
    return names


def _type_name(schema: Any) -> str:
    """The simple name a union branch is tagged with in Avro JSON."""
    name = schema if isinstance(schema, str) else schema.get("name", schema["type"])
    return str(name).rsplit(".", 1)[-1]


def _plain(schema: Any, value: Any, names: dict[str, Any]) -> Any:
    """An Avro JSON value as the Python value fastavro decodes without logical types: union
    tags dropped (avrocat tags a named branch by its simple name), bytes and fixed as bytes."""
    if isinstance(schema, list):
        if value is None:
            return None
        [(tag, inner)] = value.items()
        [branch] = [b for b in schema if _type_name(b) == tag.rsplit(".", 1)[-1]]
        return _plain(branch, inner, names)
    if isinstance(schema, str):
        if schema not in PRIMITIVES:
            return _plain(names[schema.rsplit(".", 1)[-1]], value, names)
        return value.encode("latin-1") if schema == "bytes" else value
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: _plain(f["type"], value[f["name"]], names) for f in schema["fields"]}
    if kind == "array":
        return [_plain(schema["items"], v, names) for v in value]
    if kind == "map":
        return {k: _plain(schema["values"], v, names) for k, v in value.items()}
    if kind == "fixed":
        return value.encode("latin-1")
    return value if kind == "enum" else _plain(kind, value, names)


def _as_fastavro(schema: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw records as fastavro's default reader gives them: each top-level field's timestamp
    logical type applied (the corpus schemas have no other logical type)."""
    units = {"timestamp-millis": 1000, "timestamp-micros": 1}
    scale = {}
    for f in schema["fields"]:
        logical = f["type"].get("logicalType") if isinstance(f["type"], dict) else None
        assert logical in (None, "timestamp-nanos", *units), f"{logical}: not in the corpus"
        if logical in units:
            scale[f["name"]] = units[logical]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [
        {k: epoch + timedelta(microseconds=v * scale[k]) if k in scale else v for k, v in r.items()}
        for r in records
    ]


# -- the committed files -----------------------------------------------------------------------


@entries
def test_corpus_files_are_small_and_present(entry: Entry) -> None:
    assert 0 < entry.corpus_path.stat().st_size < MAX_BYTES


@entries
def test_every_reader_reads_the_same_records(entry: Entry) -> None:
    path = entry.corpus_path
    by_fastavro = read_fastavro(path)
    assert len(by_fastavro) == len(entry.records())
    assert read_apache(path) == by_fastavro, "Apache avro disagrees with fastavro"
    raw = archive.read_records(path)
    with archive.open_archive(path) as f:
        schema = f.header.schema
    assert _as_fastavro(schema, raw) == by_fastavro, "speeddata.archive disagrees with fastavro"
    assert _without_rx(raw) == entry.records(), "the records are not the ones sent"
    names = _named_types(schema, {})
    by_avrocat = [_plain(schema, r, names) for r in read_avrocat(path)]
    assert by_avrocat == raw, "avrocat disagrees with speeddata.archive"


@entries
def test_header_metadata_is_there_for_every_reader(entry: Entry) -> None:
    schema = _schema(entry)
    with archive.open_archive(entry.corpus_path) as f:
        header = f.header
    assert json.loads(header.schema_text) == archive_schema(schema)
    assert header.codec == "null"
    assert header.channel == entry.name
    assert header.time_field == entry.time_field
    assert header.time_unit == TIME_UNITS[entry.name]
    assert header.fingerprint == fingerprint(schema)

    with open(entry.corpus_path, "rb") as fh:
        assert fastavro.reader(fh).metadata == header.metadata
    assert _apache_metadata(entry.corpus_path) == header.metadata


def _apache_metadata(path: Path) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Apache avro does not know timestamp-nanos
        with open(path, "rb") as fh, DataFileReader(fh, avro.io.DatumReader()) as reader:
            return {k: v.decode() for k, v in reader.meta.items()}


# -- the relay as built now --------------------------------------------------------------------


@entries
def test_the_current_relay_writes_the_same_header_and_records(
    entry: Entry, relay_binary: Path, tmp_path: Path
) -> None:
    path = write_archive(relay_binary, entry, tmp_path)
    with archive.open_archive(path) as now, archive.open_archive(entry.corpus_path) as then:
        assert now.header.schema_text == then.header.schema_text, (
            "the relay writes another archive schema for this schema file: if intended, "
            "regenerate the corpus (python -m tests.data.relay.make_corpus)"
        )
        assert now.header.metadata == then.header.metadata
        assert _without_rx(list(now.records())) == _without_rx(list(then.records()))
