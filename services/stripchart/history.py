"""History for a new subscription (proto/WS.md, "History"): the window before the channel's
newest row, from memory for the recent part and from the archive for what is older, joined
at the oldest row in memory: archive rows strictly older than it, memory rows from it on.
Runs in a worker thread."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from services.stripchart.channels import ChannelInfo
from services.stripchart.memory import ChannelStore
from services.stripchart.reduce import reduce
from services.stripchart.summaries import SUMMARIES, SUMMARY_NS

log = logging.getLogger("services.stripchart")
WARM_S = 3600.0
"""How far back the gateway summarizes closed files when it starts (a 1-hour window)."""


def history(
    store: ChannelStore,
    signals: list[int],
    upto: int,
    window_s: float,
    bucket_ns: int,
    data_dir: Path,
) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """``(time, values, reduced, rows from the archive)`` of the window, memory rows before row
    ``upto`` included."""
    mem_t, mem_v = store.rows(0, upto, signals)
    end = int(mem_t.max()) if len(mem_t) else _latest(store)
    start = end - int(window_s * 1e9)
    if len(mem_t) and int(mem_t[0]) <= start:
        keep = mem_t >= start
        return (*reduce(mem_t[keep], mem_v[:, keep], bucket_ns), 0)
    seam = int(mem_t[0]) if len(mem_t) else None
    old_t, old_v = archive_rows(store, signals, start, seam, data_dir, bucket_ns)
    t = np.concatenate([old_t, mem_t])
    v = np.concatenate([old_v, mem_v], axis=1)
    return (*reduce(t, v, bucket_ns), len(old_t))


def _latest(store: ChannelStore) -> int:
    latest = store.latest
    return latest[0] if latest is not None else time.time_ns()


def warm_archive(data_dir: Path, channels: list[ChannelInfo], span_s: float = WARM_S) -> int:
    """The block indexes of the channels' archive files, and the summaries of their closed
    files of the last ``span_s`` seconds, made ahead of the first history."""
    from speeddata import columnar

    built = 0
    since = time.time_ns() - int(span_s * 1e9)
    for info in channels:
        files = columnar.channel_files(data_dir, info.name)
        built += columnar.warm_index(files)
        for path in columnar.channel_files(data_dir, info.name, since, None)[:-1]:
            SUMMARIES.get(path, info.clock, _floats)
    return built


def archive_rows(
    store: ChannelStore,
    signals: list[int],
    start: int,
    end: int | None,
    data_dir: Path,
    bucket_ns: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The archive's rows of ``[start, end)`` on the channel's clock (empty when the archive
    has none, or cannot be read: said in the log). With pixel columns of a second or more,
    closed files wholly inside the range come from their summaries."""
    info = store.info
    names = [info.numeric[i].name for i in signals]
    try:
        from speeddata import columnar

        rx = info.clock == "rx"
        files = columnar.channel_files(
            data_dir, info.name, start if rx else None, end if rx else None, clock="rx"
        )
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        raw: list[Path] = []
        for i, path in enumerate(files):
            summary = None
            if bucket_ns >= SUMMARY_NS and i + 1 < len(files):  # the last may be written
                summary = SUMMARIES.get(path, info.clock, _floats)
            inside = summary is not None and len(summary.t) and int(summary.t.min()) >= start
            if inside and end is not None and summary is not None:
                inside = int(summary.t.max()) < end
            if summary is not None and inside:
                parts += _read(raw, info, names, start, end)
                raw = []
                parts.append((summary.t, summary.select(names)))
            elif summary is None or (len(summary.t) and int(summary.t.max()) >= start):
                raw.append(path)
        parts += _read(raw, info, names, start, end)
    except Exception as e:  # noqa: BLE001 - history is best effort: live data still flows
        log.warning("archive of %s not read: %r", info.name, e)
        parts = []
    if not parts:
        return np.empty(0, np.int64), np.empty((len(signals), 0), np.float64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)


def _read(
    files: list[Path], info: Any, names: list[str], start: int, end: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows of ``files`` in ``[start, end)``, as one part (none without files)."""
    if not files:
        return []
    from speeddata import columnar

    cols = columnar.read_channel(
        files,
        start_ns=start,
        end_ns=end,
        clock=info.clock,
        signals=sorted({*names, *([info.time_field] if info.time_field else [])}),
        channel=info.name,
    )
    values = [_floats(cols, n) for n in names]
    stacked = np.stack(values) if values else np.empty((0, cols.rows))
    return [(cols.time_ns().astype(np.int64), stacked)]


def _floats(cols: Any, name: str) -> np.ndarray:
    column = cols.columns.get(name)
    if column is None:
        return np.full(cols.rows, np.nan)
    values = np.asarray(column.values)
    out = values.astype(np.float64) if values.dtype != object else np.full(len(values), np.nan)
    if column.valid is not None:
        out[~column.valid] = np.nan
    return out
