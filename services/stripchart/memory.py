"""Each channel's recent rows in the gateway's memory: what history reads first, and where
live streams take their rows from.

Rows get a global index in arrival order (row ``i`` stays row ``i``); the oldest go once they
are more than ``memory_s`` older (by rx_time) than the newest, or beyond ``max_rows``. Appends
come from the source thread, reads from the event loop and history threads: one lock."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from services.stripchart.channels import ChannelInfo, Rows

SEAL_ROWS = 4096
"""Small appended batches are joined into chunks of about this many rows."""


class _Chunk:
    __slots__ = ("start", "t", "rx", "values")

    def __init__(self, start: int, t: np.ndarray, rx: np.ndarray, values: np.ndarray) -> None:
        self.start = start
        self.t = t
        self.rx = rx
        self.values = values

    @property
    def end(self) -> int:
        return self.start + len(self.t)


class ChannelStore:
    """The rows of one channel version (:class:`ChannelInfo`); a new version gets a new store."""

    def __init__(self, info: ChannelInfo, memory_s: float, max_rows: int) -> None:
        self.info = info
        self.span_ns = int(memory_s * 1e9)
        self.max_rows = max(1, max_rows)
        self.lock = threading.Lock()
        self._sealed: list[_Chunk] = []
        self._open: list[_Chunk] = []
        self.first = 0
        """Index of the oldest row kept."""
        self.total = 0
        """Index of the next row: rows [first, total) are in memory."""
        self.evicted = False
        self.latest: tuple[int, np.ndarray] | None = None
        """(time, values) of the newest row."""
        self.text: dict[str, tuple[int, Any]] = {}
        self.text_version = 0
        """Counts the updates of :attr:`text`."""

    def append(self, rows: Rows) -> None:
        n = len(rows)
        if n == 0:
            return
        with self.lock:
            self._open.append(_Chunk(self.total, rows.t, rows.rx, rows.values))
            self.total += n
            newest_rx = int(rows.rx[-1])
            open_rows = self.total - self._open[0].start
            if open_rows >= SEAL_ROWS or newest_rx - int(self._open[0].rx[0]) > self.span_ns // 4:
                self._seal()
            self.latest = (int(rows.t[-1]), rows.values[:, -1].copy())
            if rows.text:
                self.text.update(rows.text)
                self.text_version += 1
            self._evict(newest_rx)

    def _seal(self) -> None:
        chunks, self._open = self._open, []
        self._sealed.append(
            _Chunk(
                chunks[0].start,
                np.concatenate([c.t for c in chunks]),
                np.concatenate([c.rx for c in chunks]),
                np.concatenate([c.values for c in chunks], axis=1),
            )
        )

    def _evict(self, newest_rx: int) -> None:
        while self._sealed:
            oldest = self._sealed[0]
            too_old = int(oldest.rx[-1]) < newest_rx - self.span_ns
            if not too_old and self.total - oldest.end < self.max_rows:
                break
            self._sealed.pop(0)
            self.first = oldest.end
            self.evicted = True

    def rows(self, start: int, end: int, signals: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows [max(start, first), end) as (time, values of ``signals``)."""
        with self.lock:
            chunks = [c for c in (*self._sealed, *self._open) if c.end > start and c.start < end]
            first = self.first
        start = max(start, first)
        ts, vs = [], []
        for c in chunks:
            a, b = max(start - c.start, 0), min(end - c.start, len(c.t))
            if a < b:
                ts.append(c.t[a:b])
                vs.append(c.values[signals, a:b])
        if not ts:
            return np.empty(0, np.int64), np.empty((len(signals), 0), np.float64)
        return np.concatenate(ts), np.concatenate(vs, axis=1)
