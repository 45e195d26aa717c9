"""The columnar archive reader's benchmark (issue 9, `speeddata.columnar`): archive records of the
`example` channel (7 signals including a string) decoded to columns, against the straightforward
approach the original used (fastavro's reader -> a dict per record -> a list per field ->
numpy), and a 10-second range out of the archive.

The archive is written by the real relay (:func:`write_archive`, also for other benchmarks):
records whose device `time` runs at 1 kHz, sent as fast as the relay takes them without a drop,
rotated by size so that each file holds what a minute at 1 kHz would (60,000 records), flushed
as often as the relay allows (blocks of ~2,000 records at RATE; 100 ms at 1 kHz would make
blocks of 100). Times are wall clock and this process's CPU time (polars' threads included), the
best of a few runs. The target is judged on CPU time: on a machine that other work shares, wall
times measure the neighbours as much as the code.

`python -m bench.columnar [--quick]` prints the section; `make bench` puts it in
docs/benchmarks.md (`python -m bench --case columnar`: only this)."""

from __future__ import annotations

import argparse
import io
import json
import math
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import numpy as np

from bench import tools
from speeddata import archive
from speeddata._blockindex import INDEXES
from speeddata._coldecode import decode_records
from speeddata._colread import flat
from speeddata.columnar import channel_files, read_channel

CHANNEL = "example"
SCHEMA = tools.ROOT / "config" / "agents" / "example.avsc"
T0 = 1_764_547_200_000_000_000
"""Device time of the first record (2025-12-01T00:00:00Z), ns."""
PER_FILE = 60_000
PER_DATAGRAM = 20
RATE = 100_000
"""Records sent per second (the relay takes more; a loaded machine may not)."""
FLUSH_MS = 1
"""The relay's flush period: as short as it goes, so blocks stay small at RATE."""
RECORDS = 1_020_000
QUICK_RECORDS = 120_000
RANGE_S = 10
TARGET_RATIO = 10.0
SAVED = tools.BUILD / "columnar.json"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def example_record(i: int) -> dict[str, Any]:
    """Record ``i`` of the example channel: device time T0 + i ms."""
    return {
        "time": T0 + i * 1_000_000,
        "message": WORDS[i % len(WORDS)] * (1 + i % 3),
        "counter": i,
        "sine_wave": math.sin(2 * math.pi * i / 20),
        "ramp": (i % 40) / 20 - 1,
        "square_wave": 1.0 if i % 20 < 10 else -1.0,
        "noise": ((i * 7919) % 1000) / 1000 - 0.5,
    }


def write_archive(data: Path, records: int, per_file: int = PER_FILE) -> list[Path]:
    """The example channel's archive of ``records`` records under ``data``, written by the real
    relay (see the module's documentation); its files, oldest first. BenchError when the relay
    did not archive every record."""
    schema = json.loads(SCHEMA.read_text())
    parsed = fastavro.parse_schema(schema)
    sizes = []
    datagrams = []
    for start in range(0, records, PER_DATAGRAM):
        out = io.BytesIO()
        for i in range(start, min(records, start + PER_DATAGRAM)):
            fastavro.schemaless_writer(out, parsed, example_record(i))
        datagrams.append(out.getvalue())
        sizes.append(len(datagrams[-1]))
    record_bytes = sum(sizes) / records + 9  # + rx_time
    relay = tools.Proc(
        tools.relay_argv(
            CHANNEL,
            SCHEMA,
            data,
            "--time-field",
            "time",
            "--flush-ms",
            str(FLUSH_MS),
            "--rotate-seconds",
            "3600",
            "--rotate-bytes",
            str(int(per_file * record_bytes)),
            "--rcvbuf",
            str(16 << 20),
        )  # fmt: skip
    )
    try:
        port = int(relay.wait_ready()["udp"].rsplit(":", 1)[1])
        _send(port, datagrams, RATE / PER_DATAGRAM)
        _wait_archived(data, records)
    finally:
        code = relay.stop()
    if code != 0:
        raise tools.BenchError(f"relay exited {code}:\n{relay.tail()}")
    return archive.archive_files(data, CHANNEL)


def _send(port: int, datagrams: list[bytes], per_second: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    try:
        for n, d in enumerate(datagrams):
            sock.sendto(d, ("127.0.0.1", port))
            ahead = n / per_second - (time.monotonic() - start)
            if ahead > 0.002:
                time.sleep(ahead)
    finally:
        sock.close()


def _wait_archived(data: Path, records: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    have = 0
    while time.monotonic() < deadline:
        have = 0
        for p in archive.archive_files(data, CHANNEL):
            try:
                with archive.open_archive(p) as f:
                    have += f.record_count
            except archive.IncompleteHeader:
                pass
        if have >= records:
            return
        time.sleep(0.2)
    raise tools.BenchError(f"the relay archived {have} of {records} records (drops?)")


def _blocks(path: Path) -> int:
    with archive.open_archive(path) as f:
        return sum(1 for _ in f.blocks())


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds of ``runs`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), result


def straightforward(files: list[Path]) -> dict[str, np.ndarray]:
    """The original's way: fastavro's reader (logical types applied), a dict per record, a
    list per field, numpy arrays at the end."""
    lists: dict[str, list[Any]] = {}
    for path in files:
        with open(path, "rb") as f:
            for record in fastavro.reader(f):
                for key, value in record.items():  # type: ignore[union-attr]
                    lists.setdefault(key, []).append(value)
    return {key: np.array(values) for key, values in lists.items()}


def fallback(files: list[Path]) -> int:
    """speeddata.columnar's fallback: fastavro record by record (raw values) into columns."""
    rows = 0
    for path in files:
        with archive.open_archive(path) as f:
            decoded = decode_records(f.records(), flat(f.header.schema_text))
            rows += len(decoded["rx_time"][0])
    return rows


def measure(quick: bool = False) -> dict[str, Any]:
    """Every figure (quick: 120,000 records, one run each); saved to SAVED."""
    records = QUICK_RECORDS if quick else RECORDS
    runs = 1 if quick else 3
    if not tools.RELAY.exists():
        raise tools.BenchError(f"{tools.RELAY} not built: run `make relay`")
    with tempfile.TemporaryDirectory(prefix="bench-columnar-") as tmp:
        data = Path(tmp) / "data"
        t = time.monotonic()
        files = write_archive(data, records)
        result: dict[str, Any] = {
            "records": records,
            "files": len(files),
            "bytes": sum(p.stat().st_size for p in files),
            "blocks": sum(_blocks(p) for p in files),
            "write_s": time.monotonic() - t,
            "decode": _decode_rows(files, runs),
            "range": _range_rows(data, records, runs),
        }
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def _decode_rows(files: list[Path], runs: int) -> list[dict[str, Any]]:
    rows = []

    def cold() -> Any:
        INDEXES.clear()
        return read_channel(files)

    read_channel(files[:1], start_ns=0, end_ns=1)  # polars imported: not part of a read
    for key, what, fn, n in [
        ("straightforward", "fastavro reader -> dicts -> lists -> numpy",
         lambda: straightforward(files), 1),
        ("fallback", "speeddata.columnar's fastavro fallback", lambda: fallback(files), 1),
        ("cold", "read_channel, first read of the files", cold, runs),
        ("warm", "read_channel, files read before", lambda: read_channel(files), runs),
    ]:  # fmt: skip
        wall, cpu, _ = _timed(fn, n)
        rows.append({"key": key, "what": what, "wall": wall, "cpu": cpu})
    return rows


def _range_rows(data: Path, records: int, runs: int) -> list[dict[str, Any]]:
    """A RANGE_S-second range from the middle of the archive on each clock: the first read
    (no block index yet) and the median of later ones."""
    out = []
    middle = records // 2
    span = RANGE_S * 1000  # records at 1 kHz
    for clock in ("device", "rx"):
        # the device clock: RANGE_S seconds; rx_time: the span of the same records as received
        lo = T0 + middle * 1_000_000 + 123_456 if clock == "device" else _rx_of(data, middle)
        hi = lo + RANGE_S * 1_000_000_000 if clock == "device" else _rx_of(data, middle + span)

        def once(clock: str = clock, lo: int = lo, hi: int = hi) -> Any:
            files = channel_files(data, CHANNEL, lo, hi, clock=clock)
            return read_channel(files, start_ns=lo, end_ns=hi, clock=clock)

        INDEXES.clear()
        cold_wall, cold_cpu, cc = _timed(once, 1)
        stats = cc.extra["stats"]
        warm = [_timed(once, 1) for _ in range(max(5, runs))]
        out.append({
            "clock": clock, "rows": cc.rows, "files": stats["files"], "blocks": stats["blocks"],
            "decoded": stats["blocks_decoded"], "cold_wall": cold_wall, "cold_cpu": cold_cpu,
            "warm_wall": statistics.median(w for w, _, _ in warm),
            "warm_cpu": statistics.median(c for _, c, _ in warm),
        })  # fmt: skip
    return out


def _rx_of(data: Path, index: int) -> int:
    """rx_time of record ``index`` of the archive (the relay's clock)."""
    seen = 0
    for p in archive.archive_files(data, CHANNEL):
        with archive.open_archive(p) as f:
            if seen + f.record_count > index:
                return int(
                    next(r for k, r in enumerate(f.records()) if k == index - seen)["rx_time"]
                )
            seen += f.record_count
    raise tools.BenchError("record not archived")


def load() -> dict[str, Any] | None:
    """The last measurement (for `python -m bench --render`), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def _verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _by_key(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in result["decode"]}


def targets(result: dict[str, Any] | None) -> list[str]:
    """Rows of the report's Targets table (none when not measured)."""
    if not result:
        return []
    rows = _by_key(result)
    base, warm, cold = rows["straightforward"], rows["warm"], rows["cold"]
    ratio = base["cpu"] / cold["cpu"]
    return [
        f"| columnar: {result['records']:,} example records decoded to columns >="
        f" {TARGET_RATIO:g}x the straightforward approach (CPU time) | {ratio:.1f}x first read,"
        f" {base['cpu'] / warm['cpu']:.1f}x later (wall {base['wall'] / cold['wall']:.1f}x,"
        f" {base['wall'] / warm['wall']:.1f}x) | {_verdict(ratio >= TARGET_RATIO)} |"
    ]


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    n = result["records"]
    out = [
        "",
        "## Archive to columns",
        "",
        f"`speeddata.columnar.read_channel` (`bench/columnar.py`): {n:,} records of the"
        f" `example` channel (7 signals, one a string) in {result['files']} files"
        f" ({result['bytes'] / 2**20:.0f} MiB) written by the relay ({PER_FILE:,} records a"
        f" file, as a minute at 1 kHz; {result.get('blocks', 0):,} blocks). Best of the runs;"
        " CPU is this process's (polars'"
        " threads included).",
        "",
        "| approach | wall | records/s | CPU | records/CPU-s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in result["decode"]:
        out.append(
            f"| {row['what']} | {row['wall']:.2f} s | {n / row['wall'] / 1e6:.2f} M |"
            f" {row['cpu']:.2f} s | {n / row['cpu'] / 1e6:.2f} M |"
        )
    out += [
        "",
        f"A {RANGE_S}-second range from the middle of the archive (`channel_files` +"
        " `read_channel`; on rx_time the span in which the relay received the same records):"
        " the first read builds the block index of every file it may touch"
        " (on the device clock every file: device time can be anything), later reads use it"
        " (median of 5).",
        "",
        "| clock | rows | files | blocks decoded | first read | later reads |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["range"]:
        out.append(
            f"| {r['clock']} | {r['rows']:,} | {r['files']} | {r['decoded']} of {r['blocks']} |"
            f" {r['cold_wall'] * 1e3:.0f} ms (CPU {r['cold_cpu'] * 1e3:.0f} ms) |"
            f" {r['warm_wall'] * 1e3:.1f} ms (CPU {r['warm_cpu'] * 1e3:.1f} ms) |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.columnar", description=__doc__)
    p.add_argument("--quick", action="store_true", help=f"{QUICK_RECORDS:,} records, one run")
    args = p.parse_args(argv)
    try:
        result = measure(args.quick)
    except tools.BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(render(result) + "\n".join(targets(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
