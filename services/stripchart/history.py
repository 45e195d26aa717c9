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

from services.stripchart.memory import ChannelStore
from services.stripchart.reduce import reduce

log = logging.getLogger("services.stripchart")


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
    old_t, old_v = archive_rows(store, signals, start, seam, data_dir)
    t = np.concatenate([old_t, mem_t])
    v = np.concatenate([old_v, mem_v], axis=1)
    return (*reduce(t, v, bucket_ns), len(old_t))


def _latest(store: ChannelStore) -> int:
    latest = store.latest
    return latest[0] if latest is not None else time.time_ns()


def archive_rows(
    store: ChannelStore, signals: list[int], start: int, end: int | None, data_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """The archive's rows of ``[start, end)`` on the channel's clock (empty when the archive
    has none, or cannot be read: said once in the log)."""
    info = store.info
    names = [info.numeric[i].name for i in signals]
    empty = (np.empty(0, np.int64), np.empty((len(signals), 0), np.float64))
    try:
        from speeddata import columnar

        rx = info.clock == "rx"
        files = columnar.channel_files(  # type: ignore[attr-defined]
            data_dir, info.name, start if rx else None, end if rx else None, clock="rx"
        )
        if not files:
            return empty
        cols = columnar.read_channel(  # type: ignore[attr-defined]
            files,
            start_ns=start,
            end_ns=end,
            clock=info.clock,
            signals=sorted({*names, *([info.time_field] if info.time_field else [])}),
            channel=info.name,
        )
    except Exception as e:  # noqa: BLE001 - history is best effort: live data still flows
        log.warning("archive of %s not read: %r", info.name, e)
        return empty
    values = [_floats(cols, n) for n in names]
    return cols.time_ns().astype(np.int64), np.stack(values) if values else np.empty((0, cols.rows))


def _floats(cols: Any, name: str) -> np.ndarray:
    column = cols.columns.get(name)
    if column is None:
        return np.full(cols.rows, np.nan)
    values = np.asarray(column.values)
    out = values.astype(np.float64) if values.dtype != object else np.full(len(values), np.nan)
    if column.valid is not None:
        out[~column.valid] = np.nan
    return out
