"""The registry's benchmark (issue 8), on the real services started as `sdctl up` starts them
(`python -m services.bus`, `services.registry`, `services.ingest`, each with the installation's
settings file), in a temp installation with the default settings except its own free TCP
ports, random loopback multicast groups and no baseline channels:

- Capture latency: a device (a `speeddata.Sender`) sends one record every 10 ms to a free
  channel port from 0.2 s before it registers the channel; the time from the `201 Created` of
  its `POST /channels` to the first record that `speeddata.archive` reads in the channel's
  archive folder, and from the answer to `DELETE /channels/<name>` to the moment a UDP bind of
  the port succeeds (the relay gone). Median of 10 channels, one after the other.
- `GET /channels` with 1,000 channels registered: the registry alone (no bus, no ingest: it
  would start 1,000 relays), on SQLite and on a PostgreSQL server of its own; the latency of
  500 requests over one keep-alive connection, after 20 not counted.

`python -m bench.registry [--quick]` prints the section; `make bench` puts it in
docs/benchmarks.md (`python -m bench --case registry`: only this)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import tools
from bench.pgserver import PgServer, Unavailable, free_tcp_port
from speeddata import Client, Sender
from speeddata.archive import ArchiveError, archive_files, open_archive
from speeddata.config import ROOT, load_settings
from speeddata.demo import demo_records

SCHEMA = "config/agents/example.avsc"
"""The channels' schema, given as the original's clients give it (a path under config/)."""
SEND_PERIOD_S = 0.01
SEND_BEFORE_S = 0.2
POLL_S = 0.005
WAIT_S = 30.0
TARGET_S = 2.0
TARGET_P99_MS = 50.0
WARMUP = 20
SAVED = tools.BUILD / "registry.json"


def _settings_file(tmp: Path, **sections: dict[str, Any]) -> tuple[Path, Path, dict[str, str]]:
    """A settings file of the defaults but for free ports, random multicast groups and no
    baseline channels; its data dir and the services' environment."""
    x, y = random.randrange(1, 255), random.randrange(1, 254)
    values: dict[str, Any] = {
        "bus": {"xsub": f"tcp://127.0.0.1:{free_tcp_port()}",
                "xpub": f"tcp://127.0.0.1:{free_tcp_port()}"},
        "multicast": {"full_group": f"239.255.{x}.{y}", "dec_group": f"239.255.{x}.{y + 1}"},
        "registry": {"port": free_tcp_port()},
        "channels": [],
    }  # fmt: skip
    for section, changes in sections.items():
        values.setdefault(section, {}).update(changes)
    config = tmp / "speeddata.yaml"
    config.write_text(yaml.safe_dump(values))
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    env.update(SPEEDDATA_CONFIG=str(config), SPEEDDATA_DATA_DIR=str(data))
    return config, data, env


@contextmanager
def _services(names: list[str], env: dict[str, str]) -> Iterator[None]:
    """`python -m services.<name>` for each name, in order, each ready before the next;
    stopped in reverse order."""
    procs: list[tools.Proc] = []
    try:
        for name in names:
            proc = tools.Proc([sys.executable, "-m", f"services.{name}"], env)
            procs.append(proc)
            proc.wait_ready(60)
        yield
    finally:
        for proc in reversed(procs):
            proc.stop()


def _client(config: Path, data: Path) -> Client:
    settings = load_settings(config, data, environ={})
    return Client(settings=settings, token=(data / "token").read_text().strip())


class _Device:
    """A Sender in a thread: one example record every SEND_PERIOD_S to `port` until closed."""

    def __init__(self, port: int) -> None:
        self.sender = Sender(ROOT / SCHEMA, "127.0.0.1", port)
        self.records = demo_records("example", seed=port)
        self.quit = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.quit.wait(SEND_PERIOD_S):
            with contextlib.suppress(OSError):  # nobody listening yet: a device keeps sending
                self.sender.send(next(self.records))

    def close(self) -> None:
        self.quit.set()
        self.thread.join(5)
        self.sender.close()


def _archived(data: Path, channel: str) -> bool:
    """True once speeddata.archive reads a record in the channel's archive folder."""
    for path in archive_files(data, channel):
        try:
            with open_archive(path) as archive:
                if archive.record_count:
                    return True
        except (ArchiveError, OSError):
            continue  # a header being written
    return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _until(done: Any, what: str) -> float:
    """Polls `done()` every POLL_S; the monotonic time it first held."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            raise tools.BenchError(f"no {what} within {WAIT_S:g} s")
        time.sleep(POLL_S)
    return time.monotonic()


def capture_latency(repeats: int) -> dict[str, Any]:
    """`repeats` channels registered and removed one after the other on the real system:
    seconds from 201 to the first archived record and from DELETE's answer to the port free."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="regbench-") as d:
        config, data, env = _settings_file(Path(d))
        settings = load_settings(config, data, environ={})
        with _services(["bus", "registry", "ingest"], env), _client(config, data) as client:
            for i in range(repeats):
                name = f"bench{i}"
                port = client.ports_available()[0]
                device = _Device(port)
                try:
                    time.sleep(SEND_BEFORE_S)
                    t_post = time.monotonic()
                    client.add_channel(name, SCHEMA, port=port, time_field="time")
                    created = time.monotonic()
                    archived = _until(lambda n=name: _archived(data, n), f"record of {name}")
                    client.remove_channel(name)
                    deleted = time.monotonic()
                    free = _until(lambda p=port: _port_free(p), f"free port {port}")
                finally:
                    device.close()
                rows.append({"post": created - t_post, "archived": archived - created,
                             "freed": free - deleted})  # fmt: skip
                time.sleep(0.5)
    return {
        "rows": rows,
        "flush_ms": settings.relay.flush_ms,
        "poll_s": settings.ingest.registry_poll_s,
    }


def list_latency(backend: str, channels: int, requests: int) -> dict[str, Any]:
    """GET /channels latency with `channels` registered, the registry alone on `backend`
    ("sqlite" or "postgresql"); {"error": why} when PostgreSQL cannot run here."""
    with tempfile.TemporaryDirectory(prefix="regbench-") as d, ExitStack() as stack:
        url = ""
        if backend == "postgresql":
            try:
                server = PgServer()
            except Unavailable as e:
                return {"error": str(e)}
            stack.callback(server.stop)
            server.start()
            url = stack.enter_context(server.database())
        config, data, env = _settings_file(Path(d), registry={"database_url": url})
        stack.enter_context(_services(["registry"], env))
        client = stack.enter_context(_client(config, data))
        t0 = time.monotonic()
        for port in range(26000, 26000 + channels):
            client.add_channel(f"ch{port}", SCHEMA, port=port, time_field="time")
        fill_s = time.monotonic() - t0
        times = []
        with httpx.Client(base_url=client.url) as http:
            got = http.get("/channels").raise_for_status().json()["channels"]
            if len(got) != channels:
                raise tools.BenchError(f"GET /channels listed {len(got)}, not {channels}")
            for i in range(WARMUP + requests):
                start = time.perf_counter()
                body = http.get("/channels").raise_for_status().content
                if i >= WARMUP:
                    times.append(time.perf_counter() - start)
    ms = sorted(t * 1000 for t in times)
    return {
        "channels": channels,
        "requests": requests,
        "bytes": len(body),
        "fill_s": fill_s,
        "p50": statistics.median(ms),
        "p99": ms[math.ceil(0.99 * len(ms)) - 1],  # nearest rank
        "max": ms[-1],
    }


def measure(quick: bool = False) -> dict[str, Any]:
    """Both benchmarks (quick: 3 channels, 200 listed, 100 requests); saved to SAVED."""
    repeats, channels, requests = (3, 200, 100) if quick else (10, 1000, 500)
    if not tools.RELAY.exists():
        raise tools.BenchError(f"{tools.RELAY} not built: run `make relay`")
    result = {
        "capture": capture_latency(repeats),
        "list": {b: list_latency(b, channels, requests) for b in ("sqlite", "postgresql")},
    }
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def load() -> dict[str, Any] | None:
    """The last measurement (for `python -m bench --render`), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def _verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def targets(result: dict[str, Any] | None) -> list[str]:
    """Rows of the report's Targets table, one per target (none when not measured)."""
    if not result:
        return []
    cap = result["capture"]["rows"]
    out = []
    for key, what in (("archived", "`201 Created` to the first archived record"),
                      ("freed", "`DELETE` to the channel's UDP port free")):  # fmt: skip
        values = [r[key] for r in cap]
        med = statistics.median(values)
        out.append(
            f"| registry: {what} < {TARGET_S:g} s, median of {len(values)} |"
            f" median {med:.2f} s (min {min(values):.2f}, max {max(values):.2f}) |"
            f" {_verdict(med < TARGET_S)} |"
        )
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        r = result["list"][backend]
        what = f"registry: `GET /channels` p99 < {TARGET_P99_MS:g} ms, {label}"
        if "error" in r:
            out.append(f"| {what} | not measured: {r['error']} | not measured |")
            continue
        out.append(
            f"| {what}, {r['channels']:,} channels | p99 {r['p99']:.1f} ms (p50"
            f" {r['p50']:.1f} ms, {r['requests']} requests) |"
            f" {_verdict(r['p99'] < TARGET_P99_MS)} |"
        )
    return out


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    cap = result["capture"]
    out = [
        "",
        "## Registry",
        "",
        "Channels added and removed at runtime (issue 8, `bench/registry.py`), on the real bus,"
        " registry and ingest (`python -m services.<name>`, as `sdctl up` starts them) with the"
        f" default settings users run (relay `flush_ms` {cap['flush_ms']}, ingest"
        f" `registry_poll_s` {cap['poll_s']:g}: ingest acts on the registry's bus event, the"
        " poll only catches up), SQLite. A device (`speeddata.Sender`) sends one record every"
        f" {SEND_PERIOD_S * 1000:.0f} ms to a free port from {SEND_BEFORE_S:g} s before it"
        " registers the channel (`POST /channels`, the schema a path under `config/`);"
        " 'archived': from the `201 Created` to the first record `speeddata.archive` reads in"
        " the channel's archive folder; 'port free': from the answer to `DELETE` to a UDP bind"
        f" of the port that succeeds (both polled every {POLL_S * 1000:.0f} ms). One channel"
        " after the other, each a new name.",
        "",
        "| channel | POST answered | 201 -> archived | DELETE -> port free |",
        "| --- | --- | --- | --- |",
    ]
    for i, r in enumerate(cap["rows"]):
        out.append(
            f"| {i + 1} | {r['post'] * 1000:.0f} ms | {r['archived']:.2f} s | {r['freed']:.2f} s |"
        )
    out += [
        "",
        "`GET /channels` (every channel record, as JSON) with the channels registered: the"
        " registry alone (no bus, no ingest, which would start a relay per channel), over one"
        f" keep-alive HTTP connection (httpx), the response read but not parsed; {WARMUP}"
        " requests first, not counted. PostgreSQL: Debian's server in a temp dir"
        " (`bench/pgserver.py`, the tests' server: fsync off).",
        "",
        "| database | channels | response | requests | p50 | p99 | max | registering them |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        r = result["list"][backend]
        if "error" in r:
            out.append(f"| {label} | not measured: {r['error']} | | | | | | |")
            continue
        out.append(
            f"| {label} | {r['channels']:,} | {r['bytes'] / 1024:.0f} KiB | {r['requests']} |"
            f" {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | {r['fill_s']:.1f} s |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.registry", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 channels; 200 listed, 100 requests")
    args = p.parse_args(argv)
    try:
        result = measure(args.quick)
    except (tools.BenchError, OSError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print("\n".join(["| target | measured | result |", "| --- | --- | --- |", *targets(result)]))
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
