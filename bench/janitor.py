"""Issue 11's benchmark (``python -m bench --case janitor``): the tag export of 10 minutes of the
1 kHz ``example`` channel, and a janitor pass over 10,000 archive files.

The tag: 600,000 records of the example schema (the demo's values; rx_time every 1 ms), as the
relay's default rotation leaves them (a file a minute, a block every 100 ms), exported by a
real pivot (``python -m services.pivot``, no registry: the channel from its archive headers,
the default ``gzip:1`` compression): ``POST /api/v1/tags`` to ``done``, and the pivot's CPU.

The janitor pass, its wall time and CPU time, in-process
(``services.janitor.retention.Janitor``, the code the service runs; events to a no-op instead
of the bus):

- **cold**: a new janitor (a restart): every file listed, stat'ed and read (its first and last
  block), nothing to delete;
- **warm**: the next pass: every file listed and stat'ed, none read again;
- **delete all**: a pass whose TTL deletes every file, the pins (three pending ones, of
  another channel) read again before each unlink, each file's lock taken.

The files: 10 channels of 1,000 files, 100 records each (``bench/archivefiles.py``), in a temp
dir on the machine's disk."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import tools
from bench.archivefiles import write_archive_file, write_records
from services.janitor.retention import Janitor
from speeddata.config import load_settings
from speeddata.demo import example_records
from speeddata.logfmt import parse_line
from speeddata.pins import pin_path, tags_dir, write_json_durably
from speeddata.schema import archive_schema
from speeddata.timespec import format_ns

SAVED = tools.BUILD / "janitor.json"
CHANNELS = 10
S = 1_000_000_000


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(step: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), _cpu()
    step()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}


def _make(data: Path, files: int, records: int) -> None:
    start = time.time_ns() - 10 * 24 * 3600 * S
    per = files // CHANNELS
    for c in range(CHANNELS):
        for seq in range(per):
            t0 = start + (seq * CHANNELS + c) * records * S // 1000
            times = [t0 + i * S // 1000 for i in range(records)]
            write_archive_file(data, f"ch{c}", seq, times, pad=16)
    for i in range(3):
        pin = {"name": f"p{i}", "channels": ["elsewhere"], "start_ns": 0, "end_ns": 1,
               "clock": "rx", "state": "pending"}  # fmt: skip
        write_json_durably(pin_path(data, f"p{i}"), pin)


def pass_over(files: int, records: int = 100) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-janitor-"))
    try:
        data = tmp / "data"
        made = _timed(lambda: _make(data, files, records))
        base = load_settings(data_dir=data, environ={})
        keep = base.override(janitor={"ttl_s": 365 * 24 * 3600, "quota_bytes": 0,
                                      "min_free_bytes": 0})  # fmt: skip
        janitor = Janitor(keep, lambda topic, fields: None)
        cold = _timed(janitor.run_pass)
        warm = _timed(janitor.run_pass)
        size = janitor.totals.archive_bytes
        sweep = Janitor(keep.override(janitor={"ttl_s": 1}), lambda topic, fields: None)
        deleted: list[int] = []
        gone = _timed(lambda: deleted.append(len(sweep.run_pass())))
        return {"files": files, "records": records, "bytes": size, "made_s": made["wall_s"],
                "cold": cold, "warm": warm, "delete": gone, "deleted": deleted[0]}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _example_archive(data: Path, minutes: float, rate: int = 1000) -> tuple[int, int, int]:
    """``minutes`` of the example channel at ``rate`` records/s ending a minute ago, a file a
    minute; returns (first rx_time, end, records)."""
    schema = archive_schema(tools.ROOT / "config" / "agents" / "example.avsc")
    period, total, per_file = S // rate, int(minutes * 60 * rate), 60 * rate
    start = time.time_ns() - int((minutes + 1) * 60 * S)
    values = example_records(random.Random(1))
    for seq, first in enumerate(range(0, total, per_file)):
        records = []
        for i in range(first, min(total, first + per_file)):
            rx = start + i * period
            records.append({"rx_time": rx, **next(values), "time": rx - S // 1000})
        write_records(data, "example", seq, schema, records, sync_interval=100 * 62)
    return start, start + total * period, total


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tag_export(minutes: float) -> dict[str, Any]:
    """A real pivot tags ``minutes`` of the 1 kHz example channel: POST to ``done``."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-tag-"))
    proc = None
    try:
        data = tmp / "data"
        first, end, records = _example_archive(data, minutes)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
        env.update(SPEEDDATA_DATA_DIR=str(data), SPEEDDATA__PIVOT__PORT="0",
                   SPEEDDATA__REGISTRY__PORT="9",  # nothing answers there: no registry
                   SPEEDDATA__PIVOT__REGISTRY_TIMEOUT_S="0.5")  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "services.pivot"], env=env,
                                stderr=subprocess.PIPE, text=True, cwd=tools.ROOT)  # fmt: skip
        assert proc.stderr is not None
        ready = next(parse_line(x) for x in proc.stderr if x.startswith("event=ready"))
        url = f"http://{ready['http']}/api/v1/tags"
        cpu = _cpu_of(proc.pid)
        body = {"name": "bench", "start": format_ns(first), "end": format_ns(end),
                "channels": ["example"], "time": "rx"}  # fmt: skip
        posted = time.perf_counter()
        answer = httpx.post(url, json=body, timeout=60)
        if answer.status_code != 202:
            raise tools.BenchError(f"POST /tags: {answer.status_code} {answer.text}")
        answered = time.perf_counter() - posted
        while (tag := httpx.get(f"{url}/bench", timeout=60).json())["state"] == "pending":
            time.sleep(0.02)
        done = time.perf_counter() - posted
        if tag["state"] != "done":
            raise tools.BenchError(f"the tag failed: {tag['reason']}")
        pin = json.loads(pin_path(data, "bench").read_text())
        return {"minutes": minutes, "records": records, "post_s": answered, "done_s": done,
                "export_s": (pin["finished_ns"] - pin["created_ns"]) / S,
                "pivot_cpu_s": _cpu_of(proc.pid) - cpu, "size": tag["size"],
                "archive_bytes": sum(p.stat().st_size for p in (data / "archive").rglob("*.avro")),
                "exported": sum(tag["records"].values()),
                "leftovers": sorted(p.name for p in tags_dir(data).iterdir())}  # fmt: skip
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def measure(quick: bool = False) -> dict[str, Any]:
    result = {"tag": tag_export(1 if quick else 10), "pass": pass_over(1000 if quick else 10_000)}
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def load() -> dict[str, Any] | None:
    """The last measurement (for ``python -m bench --render``), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    out = ["", "## Tags and janitor", ""]
    if "tag" in result:
        out += _tag_rows(result["tag"])
    if "pass" in result:
        out += _pass_rows(result["pass"])
    return "\n".join(out) + "\n"


def _tag_rows(t: dict[str, Any]) -> list[str]:
    return [
        f"A tag of {t['minutes']} minutes of the 1 kHz `example` channel ({t['records']:,}"
        f" records, {t['archive_bytes'] / 2**20:.1f} MiB of archive in a file a minute, a block"
        " every 100 ms) exported by a real pivot to HDF5 (default `gzip:1`), its channel from"
        " the archive headers (no registry); `bench/janitor.py`.",
        "",
        "| POST answered (202) | export (pin written to done) | POST to `done` seen |"
        " pivot CPU | records/s | tag file |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {t['post_s'] * 1000:.0f} ms | {t['export_s']:.2f} s | {t['done_s']:.2f} s |"
        f" {t['pivot_cpu_s']:.2f} s | {t['exported'] / t['export_s']:,.0f} |"
        f" {t['size'] / 2**20:.1f} MiB |",
        "",
    ]


def _pass_rows(p: dict[str, Any]) -> list[str]:
    out = [
        f"A janitor pass over {p['files']:,} archive files ({CHANNELS} channels,"
        f" {p['records']} records a file, {p['bytes'] / 2**20:.0f} MiB), in-process"
        " (`bench/janitor.py`): cold = a restarted janitor, which reads each file's first and"
        " last block; warm = the next pass (stat only); delete all = a 1 s TTL deleting every"
        " file, the pins (3 pending) read again before each unlink and each file's lock taken.",
        "",
        "| pass | wall | CPU | per file |",
        "| --- | --- | --- | --- |",
    ]
    for key, label in (("cold", "cold (restart)"), ("warm", "warm"), ("delete", "delete all")):
        t = p[key]
        out.append(
            f"| {label} | {t['wall_s']:.2f} s | {t['cpu_s']:.2f} s |"
            f" {t['wall_s'] / p['files'] * 1e6:.0f} us |"
        )
    return out
