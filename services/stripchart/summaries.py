"""Closed archive files min/max-reduced per second, kept in memory: a wide window (a pixel
column of a second or more, e.g. 1 hour on 1000 px) is drawn from these instead of every
record. Only files lying wholly inside the range asked are taken from here (the files at its
edges are read row by row), so the seam with memory stays exact. Reduced once more to the
window's own columns, an extreme may land one column early; none is ever lost.

A file is summarized when a history first needs it, or ahead (``warm``) on the gateway's
start; entries are keyed by path, size and mtime (a closed file never changes) and the
oldest-used go beyond :data:`MAX_ROWS`."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.stripchart.reduce import reduce

SUMMARY_NS = 1_000_000_000
"""One summary column: a second."""
MAX_ROWS = 4_000_000


@dataclass(frozen=True)
class Summary:
    t: np.ndarray
    values: np.ndarray
    """(signals, rows) float64, in the order of :attr:`names`."""
    names: dict[str, int]

    def select(self, names: list[str]) -> np.ndarray:
        out = np.full((len(names), len(self.t)), np.nan)
        for i, name in enumerate(names):
            j = self.names.get(name)
            if j is not None:
                out[i] = self.values[j]
        return out


class Summaries:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int, int], Summary] = OrderedDict()
        self._rows = 0

    def get(self, path: Path, clock: str, floats: Any) -> Summary | None:
        """The file's summary (made now when missing); None when it cannot be read."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        made = _summarize(path, clock, floats)
        if made is None:
            return None
        with self._lock:
            self._entries[key] = made
            self._rows += len(made.t)
            while self._rows > MAX_ROWS and len(self._entries) > 1:
                _, old = self._entries.popitem(last=False)
                self._rows -= len(old.t)
        return made


def _summarize(path: Path, clock: str, floats: Any) -> Summary | None:
    from speeddata import columnar

    try:
        cols = columnar.read_channel([path], clock=clock)
    except Exception:  # noqa: BLE001 - an unreadable file is read row by row (or not at all)
        return None
    names = [n for n, c in cols.columns.items() if np.asarray(c.values).dtype.kind in "iufb"]
    values = np.stack([floats(cols, n) for n in names]) if names else np.empty((0, cols.rows))
    t, v, _ = reduce(cols.time_ns().astype(np.int64), values, SUMMARY_NS)
    return Summary(t, v, {n: i for i, n in enumerate(names)})


SUMMARIES = Summaries()
"""The gateway's one cache (a process serves one data dir)."""
