"""The worst datagrams (issue 7): for schemas the relay accepts, the datagrams that cost it most
per byte — 65,507 records of 10,000 null fields and a boolean, records nested 64 levels deep
through arrays (and the same nested past the limit), the most items that take no bytes a
datagram may declare, a 64 KB string of 4-byte characters, 65 k empty trees. For each: the
relay validator's time per datagram (validate_tool, median), then the real relay under a
stream of them: does relay.status still come at 1 Hz on the bus, and do archive blocks keep
being written every flush interval?

`python -m bench.worst_datagram [--quick]` prints the section; `make bench` puts it at the end
of docs/benchmarks.md (`python -m bench --case worst`: only this)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from bench import tools
from speeddata.archive import archive_files

TOOL = tools.RELAY.parent / "validate_tool"
CHANNEL = "worst"
FLUSH_MS = 100
MAX_DGRAM = 65507
STATUS_PERIOD_S = 1.0
"""The relay's status timer; a gap up to 1.5 periods passes (one late tick, none lost)."""


@dataclass(frozen=True)
class Worst:
    key: str
    title: str
    schema: dict[str, Any]
    datagram: bytes


def _record(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": fields}


def _deep() -> tuple[dict[str, Any], bytes, bytes]:
    """R {a: 62 nested arrays of ["null", R]}: 64 levels. Records nested to the limit, as many
    as fit; and one record nesting past it (rejected "depth" at level 65)."""
    t: Any = ["null", "R"]
    for _ in range(62):
        t = {"type": "array", "items": t}
    one = b"\x02" * 62 + b"\x00" + b"\x00" * 62  # each array one item, the union null
    k = MAX_DGRAM // 126  # records through 62 arrays each, as deep as 64 KB goes
    past = (b"\x02" * 63) * k + b"\x00" * (62 * k)
    return _record("R", [{"name": "a", "type": t}]), one * (MAX_DGRAM // len(one)), past


def cases() -> list[Worst]:
    nulls = [{"name": f"n{i}", "type": "null"} for i in range(10000)]
    deep, deepest, past = _deep()
    array_null = _record("z", [{"name": "a", "type": {"type": "array", "items": "null"}}])
    tree = _record("tree", [{"name": "kids", "type": {"type": "array", "items": "tree"}}])
    text = "\U0001d11e" * ((MAX_DGRAM - 3) // 4)
    encoded = text.encode()
    return [
        Worst(
            "nulls",
            "10,000 null fields and a boolean: 65,507 records in one datagram",
            _record("r", [*nulls, {"name": "b", "type": "boolean"}]),
            bytes([0, 1]) * (MAX_DGRAM // 2) + b"\x01",
        ),
        Worst("deep", "records nested 64 levels through 62 arrays, 524 of them", deep, deepest),
        Worst("too_deep", "the same nested past 64 levels (rejected: depth)", deep, past),
        Worst(
            "zero_items",
            f"array<null>: {MAX_DGRAM + 64:,} nulls (the cap) and 65,503 empty arrays",
            array_null,
            _zero_items(),
        ),
        Worst(
            "utf8",
            "one string of 16,376 four-byte characters",
            _record("s", [{"name": "s", "type": "string"}]),
            bytes(_zigzag(len(encoded))) + encoded,
        ),
        Worst("trees", "65,507 empty trees (a recursive record)", tree, b"\x00" * MAX_DGRAM),
    ]


def _zero_items() -> bytes:
    """Records of array<null>, all but the first an empty array (one byte each), the first
    declaring as many nulls as the datagram may: its bytes + 64 (ZR_MAX_ITEMS)."""
    head = bytes(_zigzag(MAX_DGRAM + 64)) + b"\x00"
    return head + b"\x00" * (MAX_DGRAM - len(head))


def _zigzag(v: int) -> bytearray:
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    out.append(z)
    return out


def validation_time(case: Worst, schema_path: Path) -> tuple[str, float]:
    """The relay validator's verdict and its median time per datagram, in microseconds."""
    out = subprocess.run(
        [str(TOOL), "-t", "201", str(schema_path)],
        input=case.datagram.hex() + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.split()
    fields = dict(w.split("=", 1) for w in out if "=" in w)
    verdict = f"{fields['records']} records" if out[0] == "ok" else f"rejected: {out[1]}"
    return verdict, int(fields["ns"]) / 1000


class _StatusTimes:
    """The arrival times of relay.status on a SUB socket the relay's --bus connects to."""

    def __init__(self) -> None:
        self.sock: zmq.Socket = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 50)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"relay.status.")
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint: str = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.times: list[float] = []
        self.quit = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.quit.is_set():
            try:
                self.sock.recv_multipart()
            except zmq.Again:
                continue
            self.times.append(time.monotonic())

    def close(self) -> None:
        self.quit.set()
        self.thread.join(2)
        self.sock.close(0)


def _archive_growth(data: Path, quit: threading.Event, times: list[float]) -> None:
    """Records when the archive grows (a block written), polling every 5 ms."""
    size = 0
    while not quit.is_set():
        now = sum(p.stat().st_size for p in archive_files(data, CHANNEL) if p.exists())
        if now > size:
            times.append(time.monotonic())
            size = now
        time.sleep(0.005)


def _max_gap(times: list[float], start: float, end: float) -> float:
    inside = [start, *[t for t in times if start <= t <= end], end]
    return max(b - a for a, b in zip(inside, inside[1:], strict=False))


def under_stream(
    case: Worst, schema_path: Path, tmp: Path, seconds: float, rate: int
) -> dict[str, Any]:
    """The real relay fed `rate` datagrams/s of the case for `seconds`: the largest gap between
    relay.status events and between archive writes while the stream ran, the relay's CPU."""
    status = _StatusTimes()
    data = tmp / f"data-{case.key}"
    relay = tools.Proc(
        tools.relay_argv(
            CHANNEL,
            schema_path,
            data,
            "--flush-ms",
            str(FLUSH_MS),
            "--bus",
            status.endpoint,
            "--rcvbuf",
            str(8 << 20),
        )  # fmt: skip
    )
    grows: list[float] = []
    quit = threading.Event()
    watcher = threading.Thread(target=_archive_growth, args=(data, quit, grows), daemon=True)
    try:
        port = int(relay.wait_ready()["udp"].rsplit(":", 1)[1])
        watcher.start()
        time.sleep(1.2)  # the first status, so the gaps below are the stream's
        cpu0 = tools.cpu_seconds(relay.pid)
        start = time.monotonic()
        sent = _send(port, case.datagram, rate, seconds)
        end = time.monotonic()
        cpu = tools.cpu_seconds(relay.pid) - cpu0
        time.sleep(0.3)
    finally:
        code = relay.stop()
        quit.set()
        status.close()
    if code != 0:
        raise tools.BenchError(f"relay exited {code}:\n{relay.tail()}")
    accepted = case.key != "too_deep"
    return {
        "sent": sent / (end - start),
        "cpu": cpu / (end - start),
        "status_gap": _max_gap(status.times, start, end),
        "flush_gap": _max_gap(grows, start, end) if accepted else None,
    }


def _send(port: int, datagram: bytes, rate: int, seconds: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    start, sent = time.monotonic(), 0
    try:
        while (now := time.monotonic()) - start < seconds:
            due = int((now - start) * rate) + 1
            while sent < due:
                sock.sendto(datagram, ("127.0.0.1", port))
                sent += 1
            time.sleep(0.001)
    finally:
        sock.close()
    return sent


SAVED = tools.BUILD / "worst.json"
ON_TIME_STATUS_S = 1.5 * STATUS_PERIOD_S
ON_TIME_WRITE_S = (FLUSH_MS + 150) / 1000


def measure(quick: bool = False) -> dict[str, Any]:
    """Every case: validation time, then the relay under a stream; saved to SAVED."""
    if not TOOL.exists() or not tools.RELAY.exists():
        raise tools.BenchError(f"{TOOL} or {tools.RELAY} not built: run `make relay`")
    seconds, rate = (1.5, 200) if quick else (4.0, 1000)
    rows = []
    shm = Path("/dev/shm")  # the archive in memory: GBs at this rate, and no disk in the way
    with tempfile.TemporaryDirectory(prefix="worst-", dir=shm if shm.is_dir() else None) as d:
        tmp = Path(d)
        for case in cases():
            schema_path = tmp / f"{case.key}.avsc"
            schema_path.write_text(json.dumps(case.schema))
            verdict, us = validation_time(case, schema_path)
            s = under_stream(case, schema_path, tmp, seconds, rate)
            rows.append({"title": case.title, "bytes": len(case.datagram), "verdict": verdict,
                         "us": us, **s})  # fmt: skip
            for p in archive_files(tmp / f"data-{case.key}", CHANNEL):
                p.unlink()
    result = {"seconds": seconds, "rate": rate, "rows": rows}
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def load() -> dict[str, Any] | None:
    """The last measurement (for `python -m bench --render`), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    out = [
        "",
        "## Worst datagrams",
        "",
        "The datagrams that cost the relay most per byte, for schemas it accepts (issue 7,"
        " `bench/worst_datagram.py`). Validation: the relay's validator (`validate_tool -t`),"
        f" median of 201 runs. Stream: the real relay fed the datagram at {result['rate']}/s"
        f" for {result['seconds']:g} s (more than it can take of the 65 k-record ones: the"
        " kernel drops the rest), archive on tmpfs, flush every"
        f" {FLUSH_MS} ms; the largest gap between two relay.status events on the bus (1 Hz"
        " timer) and between two archive writes while the stream ran, and the relay's CPU."
        f" On time: status gap <= {ON_TIME_STATUS_S:g} s and, for accepted datagrams, write"
        f" gap <= {ON_TIME_WRITE_S * 1000:.0f} ms.",
        "",
        "| datagram | bytes | verdict | validation | sent/s | relay CPU | status gap |"
        " write gap | timers |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        flush = r["flush_gap"]
        ok = r["status_gap"] <= ON_TIME_STATUS_S and (flush is None or flush <= ON_TIME_WRITE_S)
        out.append(
            f"| {r['title']} | {r['bytes']} | {r['verdict']} | {_us(r['us'])} |"
            f" {r['sent']:.0f} | {r['cpu']:.0%} | {r['status_gap']:.2f} s |"
            f" {'-' if flush is None else f'{flush * 1000:.0f} ms'} |"
            f" {'on time' if ok else '**LATE**'} |"
        )
    return "\n".join(out) + "\n"


def _us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} µs"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.worst_datagram", description=__doc__)
    p.add_argument("--quick", action="store_true", help="shorter streams at a lower rate")
    args = p.parse_args(argv)
    try:
        print(render(measure(args.quick)))
    except tools.BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
