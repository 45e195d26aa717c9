"""The stripchart gateway's benchmark (issue 10), on the real services (bus, registry, ingest
with its relays, the gateway) started as ``sdctl up`` starts them, in a temp data dir:

- latency from the UDP send to the frame at a WebSocket client, p50/p99, one channel at 1 kHz
  and ten channels at 1 kHz (each record's time field is its send time; the client subtracts
  it from its receive time; rows unreduced, ``width: 0``);
- the gateway's CPU with 100 clients each subscribed to 4 signals (10 channels at 1 kHz, a
  30 s window on 1000 px: min/max reduced, as a page asks);
- opening a 1-hour window at 1 kHz: the time from ``subscribe`` to the last history frame at
  the client, the archive made beforehand (3.6 M records in 60 files; the gateway's memory
  holds none of it): as soon as a gateway just started knows the channel (it is summarizing
  the archive meanwhile) and twice on the running gateway.

``python -m bench --case stripchart --out FILE`` runs this section alone."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from bench import tools
from bench.archivefiles import SCHEMA as HOUR_ARCHIVE
from bench.archivefiles import write_archive_file
from bench.pgserver import free_tcp_port
from bench.registry import _client, _services, _settings_file
from speeddata import Sender

SAVED = tools.BUILD / "stripchart.json"
CHANNELS = 10
RATE = 1000
PROBE = {
    "type": "record",
    "name": "probe",
    "fields": [{"name": "time", "type": "long"}]
    + [{"name": n, "type": "double"} for n in ("value", "a", "b", "c")],
}
HOUR = {**HOUR_ARCHIVE, "fields": HOUR_ARCHIVE["fields"][1:]}


def _feed(ports: list[int]) -> None:
    """One record per channel every 1/RATE s (caught up when late), each with its send time in
    ``time``, until killed: ``python -m bench.stripchart --feed PORT,PORT,...``."""
    senders = [Sender(PROBE, "127.0.0.1", p) for p in ports]
    n, start = 0, time.monotonic()
    while True:
        due = int((time.monotonic() - start) * RATE)
        while n < due:
            now = time.time_ns()
            for s in senders:
                s.send({"time": now, "value": float(n % 100), "a": 1.0, "b": 2.0, "c": 3.0})
            n += 1
        time.sleep(0.0005)


class _Feed:
    """:func:`_feed` in a process of its own (in this one it would hold the GIL the timing
    client needs)."""

    def __init__(self, ports: list[int]) -> None:
        arg = ",".join(map(str, ports))
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.stripchart", "--feed", arg])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextmanager
def _system(tmp: Path) -> Iterator[tuple[str, int, list[str], dict[str, Any]]]:
    config, data, env = _settings_file(
        tmp,
        stripchart={"port": free_tcp_port()},
        ingest={"registry_poll_s": 1.0},
    )
    with _services(["bus", "registry", "ingest"], env):
        client = _client(config, data)
        names = [f"probe{i}" for i in range(CHANNELS)]
        ports = [client.add_channel(n, PROBE, time_field="time")["port"] for n in names]
        _hour_archive(data, client)
        gateway = tools.Proc([sys.executable, "-m", "services.stripchart"], env)
        try:
            ready = gateway.wait_ready(60)
            yield f"ws://{ready['http']}/ws", gateway.pid, names, {"ports": ports}
        finally:
            gateway.stop()
            client.close()


def _hour_archive(data: Path, client: Any) -> None:
    now = time.time_ns()
    minute = 60 * RATE
    for i in range(60):
        first = now - 3600 * 10**9 + i * 60 * 10**9
        write_archive_file(data, "hour", i, range(first, first + minute * 10**6, 10**6))
    client.add_channel("hour", HOUR, time_field="time")


async def _latency(url: str, signals: list[str], seconds: float) -> list[float]:
    out: list[float] = []
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "signals": signals,
                                  "width": 0, "history": False}))  # fmt: skip
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, bytes):
                now = time.time_ns()
                out += [(now - t) / 1e6 for t in _times(msg)]
    return out


def _times(frame: bytes) -> list[int]:
    count = int.from_bytes(frame[6:8], "little")
    off, times = 16, []
    for _ in range(count):
        k = int.from_bytes(frame[off + 2 : off + 4], "little")
        n = int.from_bytes(frame[off + 4 : off + 8], "little")
        flags = int.from_bytes(frame[off + 8 : off + 12], "little")
        times += np.frombuffer(frame, "<i8", n, off + 16).tolist()
        off += 16 + 8 * n * (k + 1) + (8 * (k + 1) if flags & 2 else 0)
    return times


async def _clients(url: str, names: list[str], count: int, seconds: float, pid: int) -> float:
    """The gateway's CPU share while ``count`` clients read 4 signals each."""
    stop = asyncio.Event()

    async def one(i: int) -> None:
        channel = names[i % len(names)]
        async with websockets.connect(url, max_size=None) as ws:
            signals = [f"{channel}.{s}" for s in ("value", "a", "b", "c")]
            await ws.send(json.dumps({"type": "subscribe", "id": 1, "signals": signals,
                                      "window": 30, "width": 1000}))  # fmt: skip
            while not stop.is_set():
                try:
                    await asyncio.wait_for(ws.recv(), 1)
                except TimeoutError:
                    continue

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(3)
    cpu0, t0 = tools.cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    share = (tools.cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return share


async def _open_hour(url: str) -> tuple[float, int]:
    """Seconds from subscribe to the last history frame of a 1-hour window, and its rows."""
    async with websockets.connect(url, max_size=None) as ws:
        while True:  # the gateway knows the channel (just started: it reads the registry)
            msg = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(msg, str) and json.loads(msg).get("channel") == "hour":
                break
        t0 = time.monotonic()
        await ws.send(json.dumps({"type": "subscribe", "id": 9, "signals": ["hour.value"],
                                  "window": 3600, "width": 1000}))  # fmt: skip
        rows = 0
        while True:
            msg = await asyncio.wait_for(ws.recv(), 120)
            if isinstance(msg, bytes) and msg[4] == 2:
                rows += len(_times(msg))
                if msg[5] & 1:
                    return time.monotonic() - t0, rows


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(quick: bool = False) -> dict[str, Any]:
    seconds = 3.0 if quick else 10.0
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, _system(Path(tmp)) as (url, pid, names, info):
        result["hour_cold"] = asyncio.run(_open_hour(url))[0]  # as soon as it can
        time.sleep(2)  # the relays started, the gateway hears them
        for label, chosen in (("1 channel", info["ports"][:1]), ("10 channels", info["ports"])):
            feed = _Feed(chosen)
            try:
                time.sleep(1)
                signals = [f"{n}.value" for n in names[: len(chosen)]]
                lat = asyncio.run(_latency(url, signals, seconds))
            finally:
                feed.close()
            result[label] = {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "rows": len(lat)}
        feed = _Feed(info["ports"])
        try:
            result["cpu_100_clients"] = asyncio.run(_clients(url, names, 100, seconds, pid))
        finally:
            feed.close()
        opens = [asyncio.run(_open_hour(url)) for _ in range(2)]
        result["hour"] = [{"seconds": s, "rows": r} for s, r in opens]
    result["median_hour_s"] = statistics.median(o["seconds"] for o in result["hour"])
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def load() -> dict[str, Any] | None:
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def targets(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return []
    p99 = max(result["1 channel"]["p99_ms"], result["10 channels"]["p99_ms"])
    cpu = result["cpu_100_clients"]
    first = result["hour"][0]["seconds"]

    def ok(passed: bool) -> str:
        return "pass" if passed else "**FAIL**"

    return [  # the report's Targets table has three columns: target, measured, result
        f"| stripchart: UDP send to frame p99 < 50 ms (1 and 10 channels at 1 kHz) |"
        f" {p99:.1f} ms | {ok(p99 < 50)} |",
        f"| stripchart: gateway CPU with 100 clients x 4 signals < 1 core | {cpu:.2f} core |"
        f" {ok(cpu < 1)} |",
        f"| stripchart: a 1-hour window at 1 kHz full < 1 s | {first:.2f} s | {ok(first < 1)} |",
    ]


def render(result: dict[str, Any] | None) -> str:
    if not result:
        return ""
    out = [
        "",
        "## Stripchart gateway",
        "",
        "Real bus, registry, ingest, relays and gateway (`bench/stripchart.py`); one Python"
        " client process.",
        "",
        "| load | latency p50 | p99 | rows timed |",
        "| --- | --- | --- | --- |",
    ]
    for label in ("1 channel", "10 channels"):
        r = result[label]
        out.append(
            f"| {label} at 1 kHz | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['rows']:,} |"
        )
    out += [
        "",
        f"Gateway CPU with 100 clients x 4 signals (10 channels at 1 kHz, 30 s on 1000 px):"
        f" {result['cpu_100_clients']:.2f} of a core.",
        "",
        "Opening a 1-hour window at 1 kHz (3.6 M archived records, 1000 px) on a running"
        " gateway (its closed files of the last hour summarized per second): "
        + ", ".join(f"{h['seconds']:.2f} s ({h['rows']:,} rows)" for h in result["hour"])
        + f"; as soon as the gateway started knows the channel (summaries being made):"
        f" {result['hour_cold']:.2f} s.",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if "--feed" in sys.argv:
        _feed([int(p) for p in sys.argv[sys.argv.index("--feed") + 1].split(",")])
    else:
        print(render(measure("--quick" in sys.argv)))
