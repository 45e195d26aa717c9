"""The benchmark's tools work: the blaster's records are valid Avro of bench/bench.avsc, and
a low-rate run through the bench's own runner delivers every datagram to the sink and through
the copy relay to its file and multicast listener. No timing is asserted."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import fastavro
import pytest

from bench import janitor, registry, tools
from bench.receivers import RECORD_BYTES, CopyRelay, CopyRelayGso, Load, Sink
from bench.sweep import Case, blast, run_once


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    tools.build()


def test_blaster_sends_valid_records() -> None:
    schema = fastavro.parse_schema(json.loads(tools.SCHEMA.read_text()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(15)
        sent, _ = blast(s.getsockname()[1], 50, 100, Load(8))
        data = s.recv(65536)
    assert sent == 5
    assert len(data) == 8 * RECORD_BYTES
    buf = io.BytesIO(data)
    records: list[Any] = [fastavro.schemaless_reader(buf, schema, None) for _ in range(8)]
    assert buf.tell() == len(data)
    assert records[0]["status"] == 7 and records[0]["v10"] == 15.25
    assert all(r == records[0] for r in records)


@pytest.mark.parametrize("kind", [Sink, CopyRelay, CopyRelayGso])
def test_low_rate_run_loses_nothing(kind) -> None:  # type: ignore[no-untyped-def]
    case = Case("smoke", "smoke", Load(1), (2000,), 2000)
    run = run_once(kind, case, 2000, 0, 1 << 20, 1000)
    assert run.error is None
    assert run.sent == 2000
    assert all(v == 2000 for v in run.delivered.values()), run.delivered
    assert run.clean


def test_registry_list_bench_runs() -> None:
    """bench/registry.py's list benchmark on a real registry (3 channels, 5 requests)."""
    result = registry.list_latency("sqlite", 3, 5)
    assert (result["channels"], result["requests"]) == (3, 5)
    assert result["bytes"] > 0 and result["p50"] <= result["p99"] <= result["max"]


def test_janitor_bench_runs() -> None:
    """bench/janitor.py over 20 files (every pass runs, the last deletes all) and a tag of 3 s
    of the example channel (a real pivot exports all of it, nothing left beside the tag)."""
    result = janitor.pass_over(20, records=5)
    assert result["deleted"] == 20
    assert all(result[k]["wall_s"] > 0 for k in ("cold", "warm", "delete"))
    tag = janitor.tag_export(0.05)
    assert tag["exported"] == tag["records"] == 3000
    assert tag["leftovers"] == ["bench.h5", "bench.json"]
    text = janitor.render({"pass": result, "tag": tag})
    assert "| delete all |" in text and "| POST answered (202) |" in text


def test_columnar_bench_archive_reads_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """bench/columnar.py's archive, written by the real relay, reads back exactly."""
    from bench import columnar
    from speeddata.columnar import read_channel

    files = columnar.write_archive(tmp_path / "data", 2500, per_file=1000)
    assert len(files) >= 2
    cc = read_channel(files)
    assert cc.rows == 2500 and cc.clock == "device"
    want = [columnar.example_record(i) for i in range(2500)]
    for name, column in cc.columns.items():
        assert column.values.tolist() == [r[name] for r in want], name
