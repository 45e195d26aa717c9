"""The relay's limits on schemas and datagrams (issue 7), with the real binary: one nesting
limit (64 levels of records, arrays, maps and unions) for loading a schema and validating a
datagram, the cap on items that take no bytes, and names resolved by the Avro specification.
Whatever the relay archives, fastavro, Apache avro and avro-c's avrocat read."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from speeddata._avro import encode_long as zigzag
from tests.procs import Proc, parse_logfmt
from tests.relaytools import (
    assert_three_readers_agree,
    encode_fastavro,
    read_apache,
    read_avrocat,
    read_fastavro,
    relay_argv,
    run_to_exit,
    start_relay,
    write_schema,
)

LIMIT = 64
"""ZR_MAX_DEPTH (native/zmq_relay/include/zr_schema.h)."""


def nested(kind: str, levels: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A schema nesting ``levels`` levels of ``kind`` (the channel record is the first) and
    its one deepest record."""
    t: Any = "int"
    v: Any = 7
    for i in range(levels - 1, 0, -1):
        if kind == "array":
            t, v = {"type": "array", "items": t}, [v]
        elif kind == "map":
            t, v = {"type": "map", "values": t}, {"k": v}
        elif kind == "record":
            t, v = (
                {"type": "record", "name": f"r{i}", "fields": [{"name": "f", "type": t}]},
                {"f": v},
            )
        elif i % 2:  # unions, with arrays between them (a union cannot hold a union)
            t = ["null", t]
        else:
            t, v = {"type": "array", "items": t}, [v]
    schema = {"type": "record", "name": "r0", "fields": [{"name": "f", "type": t}]}
    return schema, {"f": v}


def chain(prefix: str, depth: int, leaf: Any, value: Any) -> tuple[Any, Any]:
    """Records {prefix}1 {f: {prefix}2 {f: ... {f: leaf}}}, ``depth`` of them, and a value."""
    t, v = leaf, value
    for i in range(depth, 0, -1):
        t, v = (
            {"type": "record", "name": f"{prefix}{i}", "fields": [{"name": "f", "type": t}]},
            {"f": v},
        )
    return t, v


def recursive_at_the_limit() -> tuple[dict[str, Any], dict[str, Any]]:
    """R {a: r1 {... {f: ["null", R]}}, b: s1 {... {f: int}}}, both fields nesting LIMIT levels,
    and its deepest record. The archive schema nests nearly twice as deep: R's definition goes
    where R is first referred to, deep in a, and defines b's records there."""
    a, va = chain("r", LIMIT - 2, ["null", "R"], None)
    b, vb = chain("s", LIMIT - 1, "int", 5)
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": a}, {"name": "b", "type": b}],
    }
    return schema, {"a": va, "b": vb}


def _archive_one(
    procs: list[Proc], relay_binary: Path, tmp_path: Path, schema, record, recursive=False
) -> None:
    relay = start_relay(procs, relay_binary, tmp_path / "data", schema=schema, time_field=None)
    relay.send([encode_fastavro(schema, record)])
    relay.wait_archived(1)
    stopped = relay.stop()
    assert stopped["records"] == "1" and stopped["rejected"] == "0"
    (path,) = relay.files()
    if recursive:
        # fastavro's json_writer (in assert_three_readers_agree) fails on recursive schemas;
        # the records here hold no union value but null, so avrocat prints them as they are.
        got = read_fastavro(path)
        assert read_apache(path) == got and read_avrocat(path) == got
    else:
        got = assert_three_readers_agree(path)
    assert [{k: v for k, v in r.items() if k != "rx_time"} for r in got] == [record]


@pytest.mark.parametrize("kind", ["array", "map", "record", "union"])
def test_a_schema_at_the_limit_loads_and_its_deepest_record_is_archived(
    relay_binary, procs, tmp_path, kind
):
    schema, record = nested(kind, LIMIT)
    _archive_one(procs, relay_binary, tmp_path, schema, record)


def test_a_recursive_schema_at_the_limit_has_an_archive_every_reader_parses(
    relay_binary, procs, tmp_path
):
    schema, record = recursive_at_the_limit()
    _archive_one(procs, relay_binary, tmp_path, schema, record, recursive=True)


# json.dumps of 3000 nested arrays needs a deeper stack than Python's default allows.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


@pytest.mark.parametrize(
    ("schema", "line"),
    [
        (nested("array", LIMIT + 1)[0], f"nests {LIMIT + 1} levels"),
        (nested("record", LIMIT + 1)[0], f"nests {LIMIT + 1} levels"),
        (nested("array", 3000)[0], f"nests more than {LIMIT} levels"),
    ],
    ids=["arrays", "records", "beyond-json-limit"],
)
def test_a_deeper_schema_is_refused_at_start_in_one_line(relay_binary, tmp_path, schema, line):
    path = tmp_path / "deep.avsc"
    path.write_text(json.dumps(schema))
    out = run_to_exit(relay_argv(relay_binary, path, tmp_path / "data"))
    assert out.returncode != 0
    (fatal,) = out.stderr.splitlines()
    err = parse_logfmt(fatal)["error"]
    assert line in err and f"the limit is {LIMIT}" in err, err


def test_poison_and_too_deep_datagrams_are_rejected_and_the_file_stays_readable(
    relay_binary, procs, tmp_path
):
    schema = {
        "type": "record",
        "name": "p",
        "fields": [
            {"name": "n", "type": {"type": "array", "items": "null"}},
            {"name": "next", "type": ["null", "p"]},
        ],
    }
    relay = start_relay(procs, relay_binary, tmp_path / "data", schema=schema, time_field=None)
    good = encode_fastavro(schema, {"n": [None] * 3, "next": {"n": [], "next": None}})
    poison = zigzag(2**63 - 1) + b"\x00" + b"\x00"  # 2^63-1 nulls, end block, next: null
    deep = b"\x00\x02" * 40 + b"\x00\x00"  # 41 records through unions: 82 levels
    relay.send([good, poison, deep, good])
    relay.wait_archived(2)
    stopped = relay.stop()
    assert stopped["rejected.items"] == "1" and stopped["rejected.depth"] == "1"
    assert [e.reason for e in relay.quarantine()] == ["items", "depth"]
    (path,) = relay.files()
    assert len(assert_three_readers_agree(path)) == 2


def test_names_resolve_by_the_specification(relay_binary, procs, tmp_path):
    """Issue 7: inside namespace a, X means a.X. Written with X in the null namespace, the
    reference names nothing yet: refused at start, as fastavro and Apache avro refuse it. With
    the channel record in namespace n, n.X names it: recursive, and the archive schema built
    for it is read by all three readers."""
    refused = {
        "type": "record",
        "name": "X",
        "fields": [
            {"name": "a", "type": {"type": "record", "name": "a.Y", "fields": [
                {"name": "r", "type": ["null", "X"]}]}},
            {"name": "b", "type": {"type": "record", "name": "a.X", "fields": [
                {"name": "k", "type": "int"}]}},
        ],
    }  # fmt: skip
    path = write_schema(tmp_path / "schemas", refused)
    out = run_to_exit(relay_argv(relay_binary, path, tmp_path / "refused"))
    assert out.returncode != 0
    (line,) = out.stderr.splitlines()
    assert 'unknown type "X" (in namespace "a" it means "a.X")' in parse_logfmt(line)["error"]
    schema = dict(refused, namespace="n")
    schema["fields"][0]["type"]["fields"][0]["type"] = ["null", "n.X"]
    record = {"a": {"r": None}, "b": {"k": 1}}
    _archive_one(procs, relay_binary, tmp_path, schema, record, recursive=True)
