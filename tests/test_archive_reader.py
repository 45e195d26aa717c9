"""speeddata.archive: container files written by fastavro (block boundaries known), read whole,
cut at every byte, corrupted, and read while another thread appends to them."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import avro.datafile
import avro.errors
import avro.io
import avro.schema
import fastavro
import pytest
from fastavro.write import Writer

from speeddata.archive import (
    ArchiveError,
    IncompleteHeader,
    archive_dir,
    archive_files,
    open_archive,
    parse_archive_name,
    read_records,
)
from speeddata.schema import archive_schema
from tests import logicaltypes

CHANNEL = {
    "type": "record",
    "name": "data",
    "namespace": "speeddata.example",
    "doc": "test channel",
    "fields": [
        {"name": "time", "type": "long", "logicalType": "timestamp-nanos", "unit": "custom"},
        {"name": "message", "type": "string"},
        {"name": "counter", "type": "int"},
        {"name": "value", "type": ["null", "double"]},
        {"name": "stamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
SCHEMA = archive_schema(CHANNEL)
METADATA = {
    "speeddata.channel": "example",
    "speeddata.time_field": "time",
    "speeddata.time_unit": "ns",
    "speeddata.fingerprint": "0123456789abcdef",
}


def make_records(n: int, first: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "rx_time": 1_700_000_000_000_000_000 + i,
            "time": 1_600_000_000_000_000_000 + 7 * i,
            "message": "m" * (i % 5),
            "counter": i,
            "value": None if i % 3 == 0 else i / 4,
            "stamp": 1_700_000_000_000 + i,
        }
        for i in range(first, first + n)
    ]


def write_container(
    blocks: list[list[dict[str, Any]]], codec: str = "null"
) -> tuple[bytes, list[int]]:
    """The file's bytes and the end offset of its header and of each block, in order."""
    out = io.BytesIO()
    writer = Writer(out, fastavro.parse_schema(SCHEMA), codec=codec, metadata=METADATA)
    writer.flush()  # no records yet: writes only the header (fastavro writes it lazily)
    ends = [out.tell()]
    for block in blocks:
        for record in block:
            writer.write(record)
        writer.flush()
        ends.append(out.tell())
    return out.getvalue(), ends


BLOCKS = [make_records(3), make_records(1, 3), make_records(5, 4), make_records(2, 9)]
ALL = [r for b in BLOCKS for r in b]


@pytest.fixture(params=["null", "deflate"])
def container(request: pytest.FixtureRequest) -> tuple[bytes, list[int]]:
    return write_container(BLOCKS, codec=request.param)


def test_reads_header_blocks_and_records(tmp_path: Path, container: tuple[bytes, list[int]]):
    data, ends = container
    path = tmp_path / "f.avro"
    path.write_bytes(data)
    with open_archive(path) as f:
        h = f.header
        assert json.loads(h.schema_text) == h.schema and h.codec in ("null", "deflate")
        assert [f["name"] for f in h.schema["fields"]] == [f["name"] for f in SCHEMA["fields"]]
        assert (h.channel, h.time_field, h.time_unit, h.fingerprint) == (
            "example",
            "time",
            "ns",
            "0123456789abcdef",
        )
        assert h.metadata["avro.codec"] == h.codec and len(h.sync) == 16
        assert h.header_end == ends[0]
        blocks = list(f.blocks())
        assert [(b.offset, b.end) for b in blocks] == list(zip(ends, ends[1:], strict=False))
        assert [b.count for b in blocks] == [len(b) for b in BLOCKS]
        assert all(
            b.offset < b.data_offset < b.data_offset + b.data_size + 16 == b.end for b in blocks
        )
        assert (f.complete_end, f.torn_bytes, f.record_count) == (len(data), 0, len(ALL))
        assert list(f.records()) == ALL, "values raw: timestamps stay ints of their unit"
        assert h.schema["fields"][-1]["type"]["logicalType"] == "timestamp-millis"


def test_records_of_a_range_of_blocks(tmp_path: Path, container: tuple[bytes, list[int]]):
    path = tmp_path / "f.avro"
    path.write_bytes(container[0])
    with open_archive(path) as f:
        b = list(f.blocks())
        assert list(f.records(b[1].offset, b[2].end)) == BLOCKS[1] + BLOCKS[2]
        assert list(f.records(b[3].offset)) == BLOCKS[3]
        assert list(f.records(b[2].end, b[2].end)) == []
        for start, end in [
            (b[1].offset + 1, b[2].end),
            (b[1].offset, b[2].end - 1),
            (b[3].offset, b[1].end),
        ]:
            with pytest.raises(ValueError, match="not a range of complete blocks"):
                f.records(start, end)


def test_opened_after_a_known_block_it_walks_only_the_later_ones(tmp_path: Path):
    data, ends = write_container(BLOCKS)
    path = tmp_path / "f.avro"
    path.write_bytes(data)
    with open_archive(path, after=ends[2]) as f:
        assert [(b.offset, b.end) for b in f.blocks()] == list(
            zip(ends[2:], ends[3:], strict=False)
        )
        assert list(f.records()) == BLOCKS[2] + BLOCKS[3]
        assert f.record_count == len(BLOCKS[2]) + len(BLOCKS[3])
    with open_archive(path, after=ends[-1]) as f:
        assert list(f.blocks()) == [] and f.complete_end == ends[-1]


def test_records_stay_readable_after_close_and_a_closed_file_refuses_more(tmp_path: Path):
    path = tmp_path / "f.avro"
    path.write_bytes(write_container(BLOCKS)[0])
    other = tmp_path / "other.bin"
    other.write_bytes(b"\xff" * 4096)
    fds_before = len(os.listdir("/proc/self/fd"))
    with open_archive(path) as f:
        records = f.records()
    with open(other, "rb"):  # may take the number of the closed descriptor
        assert list(records) == ALL
    with pytest.raises(ValueError, match="closed"):
        f.records()
    del records
    assert len(os.listdir("/proc/self/fd")) == fds_before  # the iterator's descriptor closed


def test_a_file_cut_at_every_byte_reads_its_complete_blocks(
    tmp_path: Path, container: tuple[bytes, list[int]]
):
    data, ends = container
    path = tmp_path / "cut.avro"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        complete = [i for i, end in enumerate(ends[1:]) if end <= cut]
        expected = [r for i in complete for r in BLOCKS[i]]
        assert read_records(path) == expected, f"cut at {cut}"
        if cut < ends[0]:
            with pytest.raises(IncompleteHeader):
                open_archive(path)
            continue
        with open_archive(path) as f:
            assert f.complete_end == (ends[len(complete)]), f"cut at {cut}"
            assert f.torn_bytes == cut - f.complete_end
            assert f.record_count == len(expected)


def test_a_sync_mismatch_ends_the_readable_part(tmp_path: Path):
    data, ends = write_container(BLOCKS)
    path = tmp_path / "bad.avro"
    broken = bytearray(data)
    broken[ends[2] - 1] ^= 0xFF  # the last byte of the second block's sync marker
    path.write_bytes(bytes(broken))
    with open_archive(path) as f:
        assert f.complete_end == ends[1] and f.torn_bytes == len(data) - ends[1]
    assert read_records(path) == BLOCKS[0]


def test_a_block_with_an_absurd_size_is_ignored(tmp_path: Path):
    data, ends = write_container(BLOCKS[:1])
    path = tmp_path / "big.avro"
    path.write_bytes(data + b"\x02" + b"\xff" * 9 + b"\x01" + b"x" * 40)
    assert read_records(path) == BLOCKS[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 a zip file", "bad magic"),
        (b"Obj\x01" + b"\x02\x14avro.codec\x08null\x00" + b"s" * 16, "no avro.schema"),
        (b"Obj\x01" + b"\x02\x16avro.schema\x06{x}\x00" + b"s" * 16, "not JSON"),
        (b"Obj\x01" + b"\x02\x01", "negative length"),
    ],
)
def test_files_that_are_not_containers_raise_a_clear_error(
    tmp_path: Path, content: bytes, message: str
):
    path = tmp_path / "x.avro"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match=message):
        open_archive(path)
    with pytest.raises(ArchiveError, match=message):
        read_records(path)


def test_an_empty_or_just_created_file_has_no_records(tmp_path: Path):
    path = tmp_path / "new.avro"
    path.write_bytes(b"")
    assert read_records(path) == []
    path.write_bytes(b"Ob")
    with pytest.raises(IncompleteHeader):
        open_archive(path)


def test_a_large_header_is_read_whole(tmp_path: Path):
    fields = [{"name": f"f{i}", "type": "double", "doc": "d" * 200} for i in range(2000)]
    schema = {"type": "record", "name": "wide", "fields": fields}
    out = io.BytesIO()
    record = {f"f{i}": float(i) for i in range(2000)}
    fastavro.writer(out, fastavro.parse_schema(schema), [record] * 3, metadata=METADATA)
    assert len(out.getvalue()) > 256 * 1024
    path = tmp_path / "wide.avro"
    path.write_bytes(out.getvalue())
    with open_archive(path) as f:
        assert f.header.schema == schema
        assert list(f.records()) == [record] * 3


@pytest.mark.filterwarnings("ignore::avro.errors.IgnoredLogicalType")
def test_files_written_by_the_apache_avro_package_read_too(tmp_path: Path):
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    path = tmp_path / "apache.avro"
    with path.open("wb") as out:
        writer = avro.datafile.DataFileWriter(
            out, avro.io.DatumWriter(), avro.schema.parse(json.dumps(SCHEMA)), codec="deflate"
        )
        writer.set_meta("speeddata.channel", b"example")
        for record in ALL:
            writer.append({**record, "stamp": epoch + timedelta(milliseconds=record["stamp"])})
            writer.sync()
        writer.close()
    with open_archive(path) as f:
        assert f.header.channel == "example" and f.record_count == len(ALL)
        assert list(f.records()) == ALL


def test_reading_while_a_writer_appends(tmp_path: Path):
    """Another thread appends the file's bytes in random small pieces (torn headers and blocks
    are seen); every read is a prefix of whole blocks and never shrinks."""
    blocks = [make_records(random.Random(i).randint(1, 20), 100 * i) for i in range(60)]
    data, ends = write_container(blocks)
    path = tmp_path / "growing.avro"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    done = threading.Event()
    read_once = threading.Event()  # the reader looked since the last piece: lockstep, not luck

    def append() -> None:
        rnd = random.Random(7)
        pos = 0
        while pos < len(data):
            step = rnd.randint(1, 97)
            os.write(fd, data[pos : pos + step])
            pos += step
            read_once.wait(15)
            read_once.clear()
        done.set()

    boundaries = {0}
    counts = 0
    for b in blocks:
        counts += len(b)
        boundaries.add(counts)
    writer = threading.Thread(target=append)
    writer.start()
    all_records = [r for b in blocks for r in b]
    seen: list[int] = []
    try:
        while not done.is_set() or not seen or seen[-1] < len(all_records):
            got = read_records(path)
            assert len(got) in boundaries
            assert got == all_records[: len(got)]
            assert not seen or len(got) >= seen[-1]
            seen.append(len(got))
            read_once.set()
            if done.is_set() and len(got) < len(all_records):
                assert read_records(path) == all_records
                break
    finally:
        writer.join(15)
        os.close(fd)
    assert len(set(seen)) > 1, "the reader never saw the file grow"
    with open_archive(path) as f:
        assert f.complete_end == ends[-1] == f.size


def test_archive_files_in_sequence_order(tmp_path: Path):
    folder = archive_dir(tmp_path, "ex-1")
    folder.mkdir(parents=True)
    names = [
        "ex-1-20240102T000000Z-000010.avro",
        "ex-1-20240101T000000Z-000002.avro",
        "ex-1-20231231T235959Z-1000000.avro",
        "ex-1-20240101T000000Z-000009.avro",
    ]
    ignored = [
        "ex-1-20240101T000000Z-000001.avro.tmp",
        "other-20240101T000000Z-000003.avro",
        "ex-1-2024-000004.avro",
        "notes.txt",
    ]
    for name in names + ignored:
        (folder / name).write_bytes(b"")
    (folder / "ex-1-20240101T000000Z-000005.avro").mkdir()
    got = [p.name for p in archive_files(tmp_path, "ex-1")]
    assert got == [names[1], names[3], names[0], names[2]]
    assert archive_files(tmp_path, "absent") == []
    parsed = parse_archive_name(names[0])
    assert parsed is not None and parsed.channel == "ex-1" and parsed.seq == 10
    assert parsed.start.isoformat() == "2024-01-02T00:00:00+00:00"
    assert parse_archive_name("notes.txt") is None


def test_values_out_of_every_logical_types_range_read_raw(tmp_path: Path):
    """Valid Avro the relay archives: fastavro's default reader fails on the whole file, or
    rounds a decimal; speeddata.archive reads every record, each value as stored."""
    schema = archive_schema(logicaltypes.SCHEMA)
    records = [{"rx_time": i, **r} for i, r in enumerate(logicaltypes.RECORDS)]
    path = tmp_path / "f.avro"
    with open(path, "wb") as out:
        fastavro.writer(out, fastavro.parse_schema(schema), records, metadata=METADATA)
    with open(path, "rb") as f, pytest.raises((OverflowError, ValueError)):
        list(fastavro.reader(f))

    assert read_records(path) == records
    with open_archive(path) as f:
        assert f.header.schema_text.count("logicalType") == json.dumps(schema).count(
            "logicalType"
        ), "the header keeps every logical type"
        blocks = list(f.blocks())
        assert list(f.records(blocks[0].offset)) == records
