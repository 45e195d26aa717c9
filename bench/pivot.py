"""The pivot's benchmark (issue 9): an hour of the ``example`` channel at 1 kHz on the device clock,
written by the real relay (3.6 M records in 60 files of a minute each, by
:func:`bench.columnar.write_archive`, kept in bench/build/ between runs), exported by ours and by
the straightforward approach the original used, side by side in one run:

- the records of the first 17 files (1,020,000; 7 signals, the string included) exported end to
  end to an HDF5 file: ours (``speeddata.columnar.read_channel`` + ``speeddata.hdf5.write_hdf5``)
  and the original's way (:func:`bench.columnar.straightforward`: fastavro, a dict per record, a
  list per field, numpy; then h5py, a dataset per field);
- a 10-second range out of the hour over REST (the real pivot service, ``python -m
  services.pivot``), at several places in the hour;
- the whole hour over REST, with the pivot process's peak memory.

Decoding to columns alone is :mod:`bench.columnar`'s measurement. Targets: end to end >= 5x
the straightforward approach and >= 1 M records/s, the 10-second export under 100 ms."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np

from bench import columnar, tools
from speeddata import archive
from speeddata.columnar import read_channel
from speeddata.config import load_settings
from speeddata.hdf5 import write_hdf5

SAVED = tools.BUILD / "pivot.json"
ARCHIVE = tools.BUILD / "pivot-archive"
HOUR_RECORDS = 3_600_000
RATE_HZ = 1000
E2E_FILES = 17
WINDOW_S = 10
WINDOW_REQUESTS = 20
TARGET_E2E = 5.0
TARGET_E2E_RATE = 1_000_000
TARGET_WINDOW_MS = 100.0


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The shortest of ``repeats`` runs (wall seconds) and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def archive_of(data: Path, records: int) -> list[Path]:
    """The archive under ``data``, written by the relay unless a complete one is there."""
    marker = data / "records.json"
    files = archive.archive_files(data, columnar.CHANNEL)
    if marker.exists() and json.loads(marker.read_text()) == records:
        return files
    for path in files:
        path.unlink()
    files = columnar.write_archive(data, records)
    marker.write_text(json.dumps(records))
    return files


def baseline_write(columns: dict[str, np.ndarray], path: Path, compression: str) -> None:
    """h5py, one dataset per field (strings variable-length UTF-8), the pivot's compression."""
    algo, _, level = compression.partition(":")
    options = {"compression": "gzip", "compression_opts": int(level or 4)} if algo == "gzip" else {}
    with h5py.File(path, "w") as f:
        group = f.create_group(columnar.CHANNEL)
        for name, values in columns.items():
            if values.dtype.kind == "U":
                values = values.astype(object)
                group.create_dataset(name, data=values, dtype=h5py.string_dtype(), **options)
            else:
                group.create_dataset(name, data=values, **options)


def side_by_side(files: list[Path], repeats: int) -> dict[str, Any]:
    """End-to-end export of ``files`` to HDF5, ours and the baseline."""
    compression = load_settings().pivot.compression
    read_channel(files)  # the block index, built once per file
    with tempfile.TemporaryDirectory() as tmp:

        def ours() -> int:
            columns = read_channel(files)
            write_hdf5([columns], Path(tmp) / "ours.h5", compression=compression)
            return columns.rows

        def baseline() -> int:
            columns = columnar.straightforward(files)
            baseline_write(columns, Path(tmp) / "baseline.h5", compression)
            return len(columns["time"])

        ours_s, rows = _best(ours, repeats)
        base_s, base_rows = _best(baseline, 1)
    if rows != base_rows:
        raise tools.BenchError(f"ours exported {rows} records, the baseline {base_rows}")
    return {"records": rows, "compression": compression, "ours": ours_s, "baseline": base_s}


def over_rest(data: Path, total: int, quick: bool) -> dict[str, Any]:
    """The pivot service on the archive: 10-second ranges, then the whole hour."""
    env = {
        **os.environ,
        "SPEEDDATA_DATA_DIR": str(data),
        "SPEEDDATA__PIVOT__PORT": "0",
        "SPEEDDATA__REGISTRY__PORT": str(tools.free_udp_port()),  # no registry: file headers
        "SPEEDDATA__PIVOT__MAX_RECORDS": str(10 * total),
    }
    pivot = tools.Proc([sys.executable, "-m", "services.pivot"], env)
    try:
        url = f"http://{pivot.wait_ready()['http']}/api/v1/pivot/export"
        hour = columnar.T0 // 1_000_000_000
        span = total // RATE_HZ
        times = []
        with httpx.Client(timeout=600) as http:
            for i in range(3 if quick else WINDOW_REQUESTS):
                start = hour + (i * 997) % (span - WINDOW_S)
                t0 = time.perf_counter()
                r = http.get(url, params=_query(start, f"PT{WINDOW_S}S"))
                times.append(time.perf_counter() - t0)
                _check(r, WINDOW_S * RATE_HZ)
            t0 = time.perf_counter()
            size = 0
            with http.stream("GET", url, params=_query(hour, f"PT{span}S")) as r:
                for chunk in r.iter_bytes():
                    size += len(chunk)
            full_s = time.perf_counter() - t0
            _check(r, total)
        return {
            "window_ms": [t * 1000 for t in times],
            "full_s": full_s,
            "full_bytes": size,
            "peak_rss_kib": tools.peak_rss_kib(pivot.pid),
        }
    finally:
        pivot.stop()


def _query(start_s: int, duration: str) -> dict[str, str]:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s))
    return {"start": start, "duration": duration, "channels": columnar.CHANNEL}


def _check(r: httpx.Response, records: int) -> None:
    if r.status_code != 200 or r.headers.get("X-SpeedData-Records") != str(records):
        raise tools.BenchError(
            f"export answered {r.status_code} with {r.headers.get('X-SpeedData-Records')} records"
            f" (want {records})"
        )


def measure(quick: bool = False) -> dict[str, Any]:
    """Quick: a tenth of the hour, 2 files end to end, one repeat; saved to SAVED."""
    records = HOUR_RECORDS // (10 if quick else 1)
    data = ARCHIVE.with_name(ARCHIVE.name + ("-quick" if quick else ""))
    t0 = time.monotonic()
    files = archive_of(data, records)
    written_s = time.monotonic() - t0
    result = {
        "archive": {
            "records": records,
            "files": len(files),
            "bytes": sum(p.stat().st_size for p in files),
            "seconds": written_s,
        },
        "side_by_side": side_by_side(files[: 2 if quick else E2E_FILES], 1 if quick else 3),
        "rest": over_rest(data, records, quick),
    }
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def load() -> dict[str, Any] | None:
    """The last measurement (for `python -m bench --render`), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def _verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _e2e(result: dict[str, Any]) -> tuple[float, float]:
    """Ours against the baseline (x), and ours in records/s."""
    s = result["side_by_side"]
    return s["baseline"] / s["ours"], s["records"] / s["ours"]


def targets(result: dict[str, Any] | None) -> list[str]:
    """Rows of the report's Targets table (none when not measured)."""
    if not result:
        return []
    ratio, rate = _e2e(result)
    window = statistics.median(result["rest"]["window_ms"])
    return [
        f"| pivot: export to HDF5 >= {TARGET_E2E:g}x the straightforward approach and >= 1 M"
        f" records/s | {ratio:.1f}x, {rate / 1e6:.2f} M records/s |"
        f" {_verdict(ratio >= TARGET_E2E and rate >= TARGET_E2E_RATE)} |",
        f"| pivot: a {WINDOW_S}-second range out of the hour over REST < {TARGET_WINDOW_MS:g} ms"
        f" | median {window:.0f} ms (max {max(result['rest']['window_ms']):.0f} ms) |"
        f" {_verdict(window < TARGET_WINDOW_MS)} |",
    ]


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    a, s, r = result["archive"], result["side_by_side"], result["rest"]
    ratio, rate = _e2e(result)
    n = s["records"]
    windows = r["window_ms"]
    out = [
        "",
        "## Pivot",
        "",
        f"{a['records'] / RATE_HZ / 60:g} minutes of the `example` channel on the device clock"
        f" at {RATE_HZ} Hz written by the relay: {a['records']:,} records in {a['files']} files"
        f" ({a['bytes'] / 2**20:.0f} MiB;"
        " `bench/pivot.py`, the archive as `bench/columnar.py` writes it). End to end to an HDF5"
        f" file, {n:,} records (7 signals, one a string), HDF5 compression `{s['compression']}`"
        " (the pivot's default) for both: the straightforward approach (the original's: fastavro,"
        f" a dict per record, a list per field, numpy, h5py) {s['baseline']:.2f} s"
        f" ({n / s['baseline'] / 1e6:.2f} M records/s), ours (`read_channel` + `write_hdf5`, best"
        f" of 3, the block index built before) {s['ours']:.3f} s ({rate / 1e6:.2f} M records/s):"
        f" **{ratio:.1f}x**.",
        "",
        f"Over REST (`python -m services.pivot`, no registry: the files' headers say the schema):"
        f" a {WINDOW_S}-second range at {len(windows)} places in the archive took median"
        f" {statistics.median(windows):.0f} ms (min {min(windows):.0f}, max {max(windows):.0f});"
        f" the first, {windows[0]:.0f} ms, includes building the block index of the hour's files."
        f" The whole hour ({a['records']:,} records, {r['full_bytes'] / 2**20:.0f} MiB of HDF5)"
        f" took {r['full_s']:.1f} s ({a['records'] / r['full_s'] / 1e6:.2f} M records/s); the"
        f" pivot's peak memory (VmHWM) {r['peak_rss_kib'] / 1024:.0f} MiB.",
        "",
    ]
    return "\n".join(out)
