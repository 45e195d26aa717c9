"""The janitor's benchmark (issue 11, ``python -m bench --case janitor``): a pass over 10,000
archive files, its wall time and CPU time, in-process (``services.janitor.retention.Janitor``,
the code the service runs; events to a no-op instead of the bus):

- **cold**: a new janitor (a restart): every file listed, stat'ed and read (its first and last
  block), nothing to delete;
- **warm**: the next pass: every file listed and stat'ed, none read again;
- **delete all**: a pass whose TTL deletes every file, the pins (three pending ones, of
  another channel) read again before each unlink, each file's lock taken.

The files: 10 channels of 1,000 files, 100 records each (``bench/archivefiles.py``), in a temp
dir on the machine's disk."""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import tools
from bench.archivefiles import write_archive_file
from services.janitor.retention import Janitor
from speeddata.config import load_settings
from speeddata.pins import pin_path, write_json_durably

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


def measure(quick: bool = False) -> dict[str, Any]:
    result = {"pass": pass_over(1000 if quick else 10_000)}
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
    p = result["pass"]
    out = [
        "",
        "## Janitor",
        "",
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
    return "\n".join(out) + "\n"
