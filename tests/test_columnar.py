"""speeddata.columnar on archive files written by fastavro: every column type against fastavro's
values (polars' path and the fallback), ranges on both clocks with block pruning counted, clock
steps, device time out of order, torn tails, growing files, schema versions, file selection."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speeddata._blockindex import INDEXES
from speeddata._coldecode import decode_polars, decode_records
from speeddata._flatschema import flatten, names_of, polars_schema
from speeddata.archive import ArchiveError, container_header, open_archive
from speeddata.columnar import UnknownSignal, channel_files, read_channel, warm_index
from tests.columnartools import (
    archive_of,
    assert_columns_equal_records,
    container,
    fastavro_records,
    write_file,
)

T0 = 1_700_000_000_000_000_000
SEC = 1_000_000_000
E = {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}
FX = {"type": "fixed", "name": "fx3", "size": 3}

COLUMNAR_FIELDS: list[dict[str, Any]] = [
    {"name": "time", "type": "long", "logicalType": "timestamp-nanos"},
    {"name": "i", "type": "int", "units": "V"},
    {"name": "l", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
    {"name": "by", "type": "bytes"},
    {"name": "fx", "type": FX},
    {"name": "e", "type": E},
    {"name": "ni", "type": ["null", "int"]},
    {"name": "ns", "type": ["null", "string"]},
    {"name": "nby", "type": ["null", "bytes"]},
    {"name": "nfx", "type": ["null", "fx3"]},
    {"name": "ne", "type": ["null", "E"]},
    {"name": "nb", "type": ["null", "boolean"]},
    {"name": "nd", "type": ["double", "null"]},
    {
        "name": "rec",
        "type": {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "a", "type": "int"},
                {
                    "name": "inner",
                    "type": {
                        "type": "record",
                        "name": "I",
                        "fields": [{"name": "z", "type": "string"}],
                    },
                },
            ],
        },
    },
    {
        "name": "nrec",
        "type": [
            "null",
            {"type": "record", "name": "N", "fields": [{"name": "q", "type": "long"}]},
        ],
    },
    {"name": "arr", "type": {"type": "array", "items": "int"}},
    {"name": "arr_e", "type": {"type": "array", "items": "E"}},
    {"name": "arr_s", "type": {"type": "array", "items": "string"}},
    {"name": "arr_fx", "type": {"type": "array", "items": "fx3"}},
    {
        "name": "arr_rec",
        "type": {
            "type": "array",
            "items": {"type": "record", "name": "K", "fields": [{"name": "k", "type": "int"}]},
        },
    },
    {"name": "narr", "type": ["null", {"type": "array", "items": "double"}]},
    {"name": "m", "type": {"type": "map", "values": "long"}},
    {"name": "mr", "type": {"type": "map", "values": "K"}},
    {"name": "nothing", "type": "null"},
]
FALLBACK_FIELDS: list[dict[str, Any]] = [
    {"name": "u", "type": ["null", "int", "string"]},
    {
        "name": "node",
        "type": {
            "type": "record",
            "name": "Node",
            "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}],
        },
    },
]


def schema_of(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return archive_of({"type": "record", "name": "t", "namespace": "test", "fields": fields})


def value_of(i: int) -> dict[str, Any]:
    null = i % 3 == 0
    return {
        "rx_time": T0 + i * 1000,
        "time": T0 - 5 * SEC + i * 999,
        "i": i - 50,
        "l": -(2**40) * i,
        "f": i / 8 - 1,
        "d": float("nan") if i == 7 else (i * 0.1 if i % 11 else float("-inf")),
        "b": i % 2 == 0,
        "s": ["", "é", "日本", "x" * i][i % 4],
        "by": bytes(range(i % 5)),
        "fx": bytes([i % 256, 0, 255]),
        "e": "ABC"[i % 3],
        "ni": None if null else -i,
        "ns": None if null else f"s{i}",
        "nby": None if null else b"\x00" * (i % 3),
        "nfx": None if null else b"abc",
        "ne": None if i % 4 == 0 else "CBA"[i % 3],
        "nb": None if null else i % 5 == 0,
        "nd": None if i % 2 else i / 3,
        "rec": {"a": i, "inner": {"z": f"z{i}"}},
        "nrec": None if i % 5 == 0 else {"q": i * 3},
        "arr": list(range(i % 4)),
        "arr_e": ["C", "A"][: i % 3],
        "arr_s": ["a", "bé"][: i % 3],
        "arr_fx": [b"xyz"] * (i % 2),
        "arr_rec": [{"k": i}, {"k": -i}][: i % 3],
        "narr": None if null else [0.5] * (i % 3),
        "m": {f"k{j}": j for j in range(i % 3)},
        "mr": {"one": {"k": i}} if i % 2 else {},
        "nothing": None,
        "u": [None, i, f"u{i}"][i % 3],
        "node": {"v": i, "next": None if i % 2 else {"v": -i, "next": None}},
    }


def records_of(fields: list[dict[str, Any]], indexes: range) -> list[dict[str, Any]]:
    names = ["rx_time"] + [f["name"] for f in fields]
    return [{k: value_of(i)[k] for k in names} for i in indexes]


@pytest.fixture(autouse=True)
def _fresh_index_cache():
    INDEXES.clear()
    yield
    INDEXES.clear()


def test_every_column_type_on_the_fast_path_matches_fastavro(tmp_path: Path):
    schema = schema_of(COLUMNAR_FIELDS)
    assert polars_schema(schema) is not None
    recs = records_of(COLUMNAR_FIELDS, range(60))
    path = write_file(tmp_path, schema, [recs[:25], recs[25:]], seq=1)
    cc = read_channel([path])
    assert cc.extra["stats"]["polars_files"] == 1 and cc.extra["stats"]["fastavro_files"] == 0
    assert_columns_equal_records(cc, fastavro_records([path]))
    c = cc.columns
    assert [c[n].values.dtype.str for n in ("i", "l", "f", "d", "b")] == [
        "<i4", "<i8", "<f4", "<f8", "|b1"
    ]  # fmt: skip
    assert c["fx"].values.dtype == np.dtype("V3") and c["nfx"].values.dtype == np.dtype("V3")
    assert c["e"].values.dtype == np.uint8 and c["e"].symbols == ("A", "B", "C")
    assert c["ni"].valid is not None and c["ni"].values[0] == 0 and not c["ni"].valid[0]
    assert np.isnan(c["nd"].values[1]) and c["nd"].valid is not None and not c["nd"].valid[1]
    assert c["ns"].values[0] == "" and c["s"].values.dtype == object
    assert c["arr"].values[3].dtype == np.int32 and c["arr_e"].values[2].dtype == np.uint8
    assert c["arr_e"].symbols == ("A", "B", "C")
    assert list(c) == [n for n in _leaf_names(schema) if n != "rx_time"]
    assert c["i"].units == "V" and c["l"].avro_type["logicalType"] == "timestamp-millis"
    assert cc.rx_time.flags.writeable and all(c[n].values.flags.writeable for n in c)
    assert cc.time_field == "time" and cc.time_unit == "ns" and cc.channel == "chan"


def test_what_polars_cannot_read_falls_back_to_fastavro(tmp_path: Path):
    fields = COLUMNAR_FIELDS + FALLBACK_FIELDS
    schema = schema_of(fields)
    assert polars_schema(schema) is None
    recs = records_of(fields, range(30))
    path = write_file(tmp_path, schema, [recs[:10], recs[10:]], seq=1)
    cc = read_channel([path])
    assert cc.extra["stats"]["fastavro_files"] == 1 and cc.extra["stats"]["polars_files"] == 0
    assert_columns_equal_records(cc, fastavro_records([path]))
    assert cc.columns["u"].values[2] == "u2" and cc.columns["node.next"].values[0]["v"] == 0


def test_the_two_decoders_agree_column_by_column(tmp_path: Path):
    import json

    schema = schema_of(COLUMNAR_FIELDS)
    path = write_file(tmp_path, schema, [records_of(COLUMNAR_FIELDS, range(40))], seq=1)
    leaves = flatten(schema)
    with open_archive(path) as f:
        text = json.dumps(polars_schema(schema))
        runs = [(f.header.header_end, f.complete_end)]
        data = container_header(f.header, text) + f.read_blocks(runs)
        fast = decode_polars(data, leaves, names_of(schema))
        slow = decode_records(f.records(), leaves)
    for leaf in leaves:
        (fv, fok), (sv, sok) = fast[leaf.name], slow[leaf.name]
        assert fv.dtype == sv.dtype, leaf.name
        assert (fok is None) == (sok is None) and (fok is None or (fok == sok).all()), leaf.name
        assert _dump(fv) == _dump(sv), leaf.name


def _dump(values: np.ndarray) -> str:
    return repr([v.tolist() if isinstance(v, np.ndarray) else v for v in values.tolist()])


def _leaf_names(schema: dict[str, Any]) -> list[str]:
    return [leaf.name for leaf in flatten(schema)]


SIMPLE = [
    {"name": "time", "type": "long"},
    {"name": "i", "type": "int"},
    {"name": "s", "type": "string"},
]


def _simple(rx: list[int], dev: list[int]) -> list[dict[str, Any]]:
    return [
        {"rx_time": r, "time": d, "i": n, "s": str(n)}
        for n, (r, d) in enumerate(zip(rx, dev, strict=True))
    ]


def _blocks(recs: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [recs[i : i + size] for i in range(0, len(recs), size)]


def _brute(paths: list[Path], lo: int | None, hi: int | None, key: str) -> list[int]:
    return [
        r["i"]
        for r in fastavro_records(paths)
        if (lo is None or r[key] >= lo) and (hi is None or r[key] < hi)
    ]


def test_a_range_decodes_only_the_blocks_that_can_overlap_it(tmp_path: Path):
    n = 200
    recs = _simple([T0 + k * 1000 for k in range(n)], [T0 - k * 10 for k in range(n)])
    path = write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 10), seq=1)
    cc = read_channel([path], start_ns=T0 + 55_000, end_ns=T0 + 75_000, clock="rx")
    assert cc.columns["i"].values.tolist() == list(range(55, 75))
    stats = cc.extra["stats"]
    assert (stats["blocks"], stats["blocks_decoded"], stats["records_decoded"]) == (20, 3, 30)
    assert stats["records"] == 20 and stats["files_read"] == 1 and cc.clock == "rx"
    # the device clock runs backwards here: its index prunes just the same
    cc = read_channel([path], start_ns=T0 - 745, end_ns=T0 - 545)
    assert cc.clock == "device" and cc.columns["i"].values.tolist() == list(range(55, 75))
    assert cc.extra["stats"]["blocks_decoded"] == 3
    assert (cc.time_ns() == cc.columns["time"].values).all()
    # nothing in range: no block decoded, the columns there with no rows
    cc = read_channel([path], start_ns=0, end_ns=T0 - 10**9, clock="rx")
    assert cc.rows == 0 and cc.extra["stats"]["blocks_decoded"] == 0
    assert cc.columns["i"].values.dtype == np.int32 and cc.columns["s"].values.dtype == object


def test_warming_the_index_spares_the_first_read(tmp_path: Path):
    recs = _simple([T0 + k for k in range(50)], list(range(50)))
    path = write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 10), seq=1)
    assert warm_index([path, tmp_path / "gone.avro"]) == 5
    assert warm_index([path]) == 0
    cc = read_channel([path], start_ns=20, end_ns=25)
    assert cc.columns["i"].values.tolist() == [20, 21, 22, 23, 24]
    assert cc.extra["stats"]["blocks_indexed"] == 0 and cc.extra["stats"]["blocks_decoded"] == 1


def test_a_clock_step_back_inside_a_file_still_finds_every_record(tmp_path: Path):
    rx = [T0 + k * SEC for k in range(50)] + [T0 - 100 * SEC + k * SEC for k in range(50)]
    recs = _simple(rx, list(range(100)))
    path = write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 7), seq=1)
    for lo, hi in [(T0 - 95 * SEC, T0 - 90 * SEC), (T0 - 55 * SEC, T0 + 3 * SEC), (None, T0)]:
        cc = read_channel([path], start_ns=lo, end_ns=hi, clock="rx")
        assert cc.columns["i"].values.tolist() == _brute([path], lo, hi, "rx_time")
    cc = read_channel([path], start_ns=T0 - 95 * SEC, end_ns=T0 - 90 * SEC, clock="rx")
    assert cc.rows == 5 and cc.extra["stats"]["blocks_decoded"] == 2


def test_device_time_in_any_order_and_its_unit(tmp_path: Path):
    rng = random.Random(5)
    dev = [rng.randrange(0, 10_000) for _ in range(300)]
    recs = _simple([T0 + k for k in range(300)], dev)
    paths = [
        write_file(tmp_path, schema_of(SIMPLE), _blocks(recs[:150], 16), seq=1, time_unit="ms"),
        write_file(tmp_path, schema_of(SIMPLE), _blocks(recs[150:], 16), seq=2, time_unit="ms"),
    ]
    for lo_ms, hi_ms in [(0, 10_000), (2_500, 2_600), (9_990, 20_000), (5_000, 5_000)]:
        cc = read_channel(paths, start_ns=lo_ms * 10**6, end_ns=hi_ms * 10**6)
        want = [r["i"] for r in recs if lo_ms <= r["time"] < hi_ms]
        assert cc.columns["i"].values.tolist() == want
        assert cc.time_unit == "ms" and (cc.time_ns() == cc.columns["time"].values * 10**6).all()
    # a bound between two milliseconds: 2500.5 ms includes 2501 ms, not 2500 ms
    cc = read_channel(paths, start_ns=2_500_500_000, end_ns=2_501_500_000)
    assert cc.columns["time"].values.tolist() == [d for d in dev if d == 2501]


def test_a_file_being_written_reads_to_its_last_complete_block(tmp_path: Path):
    recs = _simple([T0 + k for k in range(40)], list(range(40)))
    data = container(schema_of(SIMPLE), _blocks(recs, 10))
    whole = write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 10), seq=1)
    with open_archive(whole) as f:
        ends = [b.end for b in f.blocks()]
    whole.write_bytes(data[: ends[2] + 7])  # the fourth block torn
    header_only = tmp_path / "chan-20231114T221320Z-000002.avro"
    header_only.write_bytes(data[:20])  # just created: the header incomplete
    cc = read_channel([whole, header_only])
    assert cc.columns["i"].values.tolist() == list(range(30))
    cc = read_channel([whole, header_only], start_ns=T0, clock="rx")
    assert cc.columns["i"].values.tolist() == list(range(30))
    assert cc.extra["stats"]["blocks_indexed"] == 3
    assert cc.extra["stats"]["skipped"] == [str(header_only)]
    # it grows: only the new blocks are indexed
    whole.write_bytes(data)
    cc = read_channel([whole], start_ns=T0 + 35, end_ns=T0 + 99, clock="rx")
    assert cc.columns["i"].values.tolist() == list(range(35, 40))
    assert cc.extra["stats"]["blocks_indexed"] == 1 and cc.extra["stats"]["blocks_decoded"] == 1
    index = INDEXES.get(whole)
    with open_archive(whole) as f:
        assert index is not None and index.end.tolist() == [b.end for b in f.blocks()]
    # a vanished file is skipped too
    whole.unlink()
    assert read_channel([whole]).extra["stats"]["skipped"] == [str(whole)]


V1: list[dict[str, Any]] = [
    {"name": "time", "type": "long"},
    {"name": "a", "type": "int"},
    {"name": "gone", "type": "string", "doc": "removed in v2"},
    {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
    {"name": "f", "type": "float"},
    {"name": "by", "type": "bytes"},
]
V2: list[dict[str, Any]] = [
    {"name": "time", "type": "long"},
    {"name": "a", "type": "long"},
    {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["C", "B", "A"]}},
    {"name": "f", "type": "double"},
    {"name": "by", "type": "string"},
    {"name": "added", "type": "int", "default": 7},
    {"name": "maybe", "type": ["null", "string"], "default": None},
    {"name": "nodefault", "type": "double"},
    {
        "name": "sub",
        "type": {"type": "record", "name": "S", "fields": [{"name": "x", "type": "int"}]},
        "default": {"x": -1},
    },
]


def test_schema_versions_resolve_to_the_newest(tmp_path: Path):
    old = [
        {"rx_time": T0 + k, "time": k, "a": k, "gone": f"g{k}", "e": "AB"[k % 2], "f": 0.5,
         "by": b"b"}
        for k in range(5)
    ]  # fmt: skip
    new: list[dict[str, Any]] = [
        {"rx_time": T0 + 5 + k, "time": 5 + k, "a": 2**40 + k, "e": "CBA"[k % 3], "f": 0.1,
         "by": "é", "added": k, "maybe": "m", "nodefault": 1.5, "sub": {"x": k}}
        for k in range(3)
    ]  # fmt: skip
    paths = [
        write_file(tmp_path, schema_of(V1), [old], seq=1),
        write_file(tmp_path, schema_of(V2), [new], seq=2),
    ]
    cc = read_channel(paths)
    c = cc.columns
    assert list(c) == ["time", "a", "e", "f", "by", "added", "maybe", "nodefault", "sub.x", "gone"]
    assert c["a"].values.dtype == np.int64
    assert c["a"].values.tolist() == [0, 1, 2, 3, 4, 2**40, 2**40 + 1, 2**40 + 2]
    assert c["e"].symbols == ("C", "B", "A")
    assert [c["e"].symbols[k] for k in c["e"].values] == list("ABABA") + list("CBA")
    assert c["f"].values.dtype == np.float64 and c["f"].values[0] == 0.5
    assert c["by"].values.tolist() == ["b"] * 5 + ["é"] * 3
    assert c["added"].values.tolist() == [7] * 5 + [0, 1, 2] and c["added"].valid is None
    assert c["maybe"].valid is not None and c["maybe"].valid.tolist() == [False] * 5 + [True] * 3
    assert c["nodefault"].valid is not None and c["nodefault"].valid.tolist()[:5] == [False] * 5
    assert c["sub.x"].values.tolist() == [-1] * 5 + [0, 1, 2]
    assert c["gone"].values.tolist() == [f"g{k}" for k in range(5)] + [""] * 3
    assert c["gone"].valid is not None and c["gone"].valid.tolist() == [True] * 5 + [False] * 3
    assert c["gone"].units == "removed in v2"
    assert [f["name"] for f in cc.schema["fields"]] == ["rx_time"] + [f["name"] for f in V2]
    # the reader schema can be given (a channel schema gets rx_time)
    cc = read_channel(paths, reader_schema={"type": "record", "name": "t", "fields": V1})
    assert list(cc.columns) == ["time", "a", "gone", "e", "f", "by", "added", "maybe",
                                "nodefault", "sub.x"]  # fmt: skip
    assert cc.columns["a"].values.dtype == np.int32  # a long read as int: not a promotion
    assert cc.columns["a"].valid is not None and cc.columns["a"].valid.tolist()[5:] == [False] * 3
    assert cc.columns["e"].valid is not None and cc.columns["e"].valid.tolist()[5:] == [
        False, True, True
    ]  # fmt: skip


def test_signals_pick_columns_and_unknown_ones_are_named(tmp_path: Path):
    schema = schema_of(COLUMNAR_FIELDS)
    path = write_file(tmp_path, schema, [records_of(COLUMNAR_FIELDS, range(5))], seq=1)
    cc = read_channel([path], signals=["rec", "d", "rx_time"])
    assert list(cc.columns) == ["time", "d", "rec.a", "rec.inner.z"]
    assert list(read_channel([path], signals=["rec.inner.z"]).columns) == ["time", "rec.inner.z"]
    with pytest.raises(UnknownSignal, match="'nope'") as err:
        read_channel([path], signals=["d", "nope"])
    assert err.value.signal == "nope"
    assert list(read_channel([path], signals=["d"], clock="rx").columns) == ["time", "d"]


def test_no_files_gives_no_rows(tmp_path: Path):
    cc = read_channel([])
    assert cc.rows == 0 and cc.columns == {} and cc.schema == {}
    cc = read_channel([], reader_schema=schema_of(SIMPLE), channel="x")
    assert cc.channel == "x" and list(cc.columns) == ["time", "i", "s"] and cc.rows == 0


def test_channel_files_by_the_start_times_in_their_names(tmp_path: Path):
    folder = tmp_path / "archive" / "chan"
    starts = [T0, T0 + 600 * SEC, T0 + 1200 * SEC, T0 + 1800 * SEC]
    for seq, start in enumerate(starts, 1):
        write_file(folder, schema_of(SIMPLE), [], seq=seq, start_ns=start)
    every = channel_files(tmp_path, "chan")
    assert [p.name.endswith(f"-{s:06d}.avro") for s, p in enumerate(every, 1)] == [True] * 4
    picked = channel_files(tmp_path, "chan", T0 + 750 * SEC, T0 + 800 * SEC)
    assert picked == every[1:2]
    assert channel_files(tmp_path, "chan", T0 + 1190 * SEC, T0 + 1195 * SEC) == every[1:3]
    assert channel_files(tmp_path, "chan", T0 + 9999 * SEC, None) == every[3:]
    assert channel_files(tmp_path, "chan", None, T0 - 3600 * SEC) == []
    assert channel_files(tmp_path, "chan", T0 + 750 * SEC, T0 + 800 * SEC, clock="device") == every
    with pytest.raises(ValueError, match="clock"):
        channel_files(tmp_path, "chan", clock="tai")
    # the clock stepped back an hour before the third file: the files around the step are kept
    write_file(folder, schema_of(SIMPLE), [], seq=5, start_ns=T0 - 3600 * SEC)
    every = channel_files(tmp_path, "chan")
    assert channel_files(tmp_path, "chan", T0 - 3000 * SEC, T0 - 2900 * SEC) == every
    assert channel_files(tmp_path, "chan", T0 + 750 * SEC, T0 + 800 * SEC) == every[1:]


class _Panic(BaseException):
    """What a pyo3 panic looks like from Python: no Exception subclass."""


def test_a_polars_failure_of_any_kind_falls_back_to_fastavro(tmp_path: Path, monkeypatch):
    import polars

    def panic(*args: Any, **kwargs: Any) -> Any:
        raise _Panic("thread panicked")

    schema = schema_of(COLUMNAR_FIELDS)
    path = write_file(tmp_path, schema, [records_of(COLUMNAR_FIELDS, range(9))], seq=1)
    monkeypatch.setattr(polars, "read_avro", panic)
    cc = read_channel([path], start_ns=T0 + 2000, clock="rx")  # the index falls back too
    assert cc.extra["stats"]["fastavro_files"] == 1 and cc.extra["stats"]["polars_files"] == 0
    assert_columns_equal_records(cc, fastavro_records([path])[2:])


def test_enum_codes_take_the_smallest_unsigned_type():
    from speeddata._coldecode import code_dtype

    assert [code_dtype(n) for n in (1, 256, 257, 65536, 65537)] == [
        np.uint8, np.uint8, np.uint16, np.uint16, np.uint32
    ]  # fmt: skip


def test_blocks_that_do_not_decode_name_their_file(tmp_path: Path):
    recs = _simple([T0 + k for k in range(30)], list(range(30)))
    path = write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 10), seq=1)
    with open_archive(path) as f:
        second = list(f.blocks())[1]
    data = bytearray(path.read_bytes())
    data[second.data_offset : second.data_offset + second.data_size] = b"\xff" * second.data_size
    path.write_bytes(bytes(data))
    cases: list[dict[str, Any]] = [{}, {"start_ns": T0, "clock": "rx"}]
    for kwargs in cases:
        INDEXES.clear()
        with pytest.raises(ArchiveError, match=f"{path.name}.*do not decode"):
            read_channel([path], **kwargs)


def test_the_index_cache_is_bounded_and_shares_schemas(tmp_path: Path):
    from speeddata._blockindex import BlockIndexes

    recs = _simple([T0 + k for k in range(20)], list(range(20)))
    paths = [write_file(tmp_path, schema_of(SIMPLE), _blocks(recs, 10), seq=s) for s in (1, 2, 3)]
    cache = BlockIndexes(max_blocks=100, max_files=2)
    first, second, third = (cache.get(p) for p in paths)
    assert first is not None and second is not None and third is not None
    assert first.header.schema is second.header.schema is third.header.schema
    assert cache.get_counted(paths[0])[1] == 2, "the oldest was dropped: indexed again"
    cache = BlockIndexes(max_blocks=3)
    for p in paths:
        cache.get(p)
    assert cache.get_counted(paths[2])[1] == 0 and cache.get_counted(paths[0])[1] == 2


def test_a_field_renamed_with_an_alias_reads_the_old_name(tmp_path: Path):
    inner = {"type": "record", "name": "In", "fields": [{"name": "x", "type": "int"}]}
    old: list[dict[str, Any]] = [
        {"name": "time", "type": "long"},
        {"name": "before", "type": "int"},
        {"name": "rec", "type": inner},
    ]
    renamed = {
        "type": "record",
        "name": "In",
        "fields": [{"name": "y", "type": "long", "aliases": ["x"]}],
    }
    new: list[dict[str, Any]] = [
        {"name": "time", "type": "long"},
        {"name": "after", "type": "int", "aliases": ["before"]},
        {"name": "rec2", "type": renamed, "aliases": ["rec"]},
    ]
    paths = [
        write_file(tmp_path, schema_of(old), [[
            {"rx_time": T0, "time": 0, "before": 1, "rec": {"x": 10}},
        ]], seq=1),
        write_file(tmp_path, schema_of(new), [[
            {"rx_time": T0 + 1, "time": 1, "after": 2, "rec2": {"y": 20}},
        ]], seq=2),
    ]  # fmt: skip
    cc = read_channel(paths)
    assert list(cc.columns) == ["time", "after", "rec2.y"]
    assert cc.columns["after"].values.tolist() == [1, 2] and cc.columns["after"].valid is None
    assert cc.columns["rec2.y"].values.tolist() == [10, 20]
    assert cc.columns["rec2.y"].values.dtype == np.int64
