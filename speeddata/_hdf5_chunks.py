"""gzip-compressed chunks of fixed-size datasets made on threads (``speeddata.hdf5``).

HDF5 runs its filters on the writing thread, one chunk after another, with the system's zlib;
with ``gzip`` that was most of an export's time. Here the shuffle and deflate filters' work is
done the way HDF5 does it (byte-shuffled elements, then a zlib stream) on a thread pool (the
compressors release the GIL), and the finished chunks are written with ``write_direct_chunk``,
while the writing thread goes on with the datasets that must take HDF5's own path
(variable-length values, whose heap references only HDF5 can make). A file written so is read
by any HDF5 reader like one that HDF5 compressed itself: the stream is standard deflate.

Levels 1-3 are compressed by ISA-L (the ``isal`` package, its levels 1-3): on the example
channel's numeric columns it made chunks about as small as zlib level 1 (15.6 MB against
15.3 MB for 44 MB shuffled) 13x faster (0.04 s against 0.5 s CPU). Level 0 and 4-9 use zlib
at that level (4-9: the user asked for small over fast). The file's filter records the level
asked; a deflate decoder needs no level.

Rows after a dataset's last full chunk wait in memory until an append completes the chunk, or
the file is closed (the last chunk is then padded with zeros to the chunk size, as HDF5 stores
it): a channel written in parts keeps this path. Rows that cannot join a chunk so go through
HDF5's filters.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import h5py
import numpy as np

isal_zlib: Any
try:
    from isal import isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency; a platform without its wheel
    isal_zlib = None

THREADS = max(1, min(4, os.cpu_count() or 1))


def compress(data: bytes, level: int) -> bytes:
    """A zlib stream of ``data`` (what HDF5's deflate filter stores) at gzip ``level``."""
    if isal_zlib is not None and 1 <= level <= 3:
        return bytes(isal_zlib.compress(data, level))
    return zlib.compress(data, level)


def _deflate(values: np.ndarray, rows: int, shuffle: bool, level: int) -> bytes:
    if len(values) < rows:
        padded = np.zeros(rows, dtype=values.dtype)
        padded[: len(values)] = values
        values = padded
    raw = values.view(np.uint8).reshape(rows, values.dtype.itemsize)
    data = raw.T.tobytes() if shuffle and values.dtype.itemsize > 1 else raw.tobytes()
    return compress(data, level)


class ParallelDeflate:
    """Compresses chunks on threads; :meth:`flush` writes them, in order, on the caller's."""

    def __init__(self, level: int, threads: int = THREADS) -> None:
        self.level = level
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="hdf5-deflate")
        self.pending: list[tuple[h5py.Dataset, int, Future[bytes]]] = []
        self.tails: dict[str, tuple[h5py.Dataset, int, np.ndarray]] = {}
        """Per dataset, the rows after its last full chunk: kept until more rows complete
        the chunk (an append) or :meth:`close` stores them as a partial chunk."""

    def submit(self, dataset: h5py.Dataset, start: int, values: np.ndarray) -> bool:
        """Queues ``values`` for rows ``start``...; False when they must take HDF5's path."""
        rows = dataset.chunks[0] if dataset.chunks else 0
        if not rows or not _fixed_size(values, dataset):
            return False
        tail = self.tails.pop(dataset.name, None)
        if tail is not None and tail[1] + len(tail[2]) == start:
            start, values = tail[1], np.concatenate([tail[2], values])
        elif tail is not None:
            self._queue(*tail)
        if start % rows:
            return False
        full = len(values) - len(values) % rows
        self._queue(dataset, start, values[:full])
        if full < len(values):
            self.tails[dataset.name] = (dataset, start + full, values[full:].copy())
        return True

    def _queue(self, dataset: h5py.Dataset, start: int, values: np.ndarray) -> None:
        rows = dataset.chunks[0]
        shuffle = bool(dataset.shuffle)
        values = np.ascontiguousarray(values)
        for offset in range(0, len(values), rows):
            part = values[offset : offset + rows]
            future = self.pool.submit(_deflate, part, rows, shuffle, self.level)
            self.pending.append((dataset, start + offset, future))

    def flush(self) -> None:
        """Writes every queued chunk (after HDF5 has grown the datasets to hold them)."""
        pending, self.pending = self.pending, []
        for dataset, row, future in pending:
            dataset.id.write_direct_chunk((row,), future.result())

    def close(self) -> None:
        """Stores the tails as partial chunks and writes what is queued."""
        try:
            for tail in self.tails.values():
                self._queue(*tail)
            self.tails.clear()
            self.flush()
        finally:
            self.pool.shutdown(cancel_futures=True)


def _fixed_size(values: np.ndarray, dataset: h5py.Dataset) -> bool:
    """Whether ``values``' bytes are the dataset's stored bytes (same size, little-endian or
    single bytes, no objects)."""
    dtype = values.dtype
    if dtype.hasobject or dtype.kind not in "biufV" or dtype.itemsize != dataset.dtype.itemsize:
        return False
    return (
        dtype.itemsize == 1
        or dtype.byteorder in ("<", "|")
        or (dtype.byteorder == "=" and np.little_endian)
    )
