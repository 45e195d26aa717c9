"""Per-file block index of archive files: for every complete block its byte range, record count,
and the smallest and largest ``rx_time`` and device time (the header's ``speeddata.time_field``)
of its records, so a reader decodes only the blocks that can overlap a time range.

Building it decodes the time columns only. It is kept in-process, keyed by the file's path and
checked against its inode, size and modification time on every use: a closed file's index never
changes; for a file that grew (the one being written) only the new blocks are indexed. The
cache is a bounded LRU (:data:`MAX_BLOCKS` blocks, :data:`MAX_FILES` files), and files of one
schema version share one copy of it (schemas of 1 MB exist)."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import numpy as np

from speeddata._flatschema import nullable_branch, polars_schema, type_kind
from speeddata.archive import (
    ArchiveError,
    ArchiveFile,
    Header,
    IncompleteHeader,
    container_header,
    open_archive,
)

MAX_BLOCKS = 1_000_000
"""Blocks kept in the cache in all (7 int64 each: 56 MB at most)."""
MAX_FILES = 20_000
"""Files kept in the cache (a header and arrays each: a few KB)."""

NO_MIN = np.iinfo(np.int64).max
NO_MAX = np.iinfo(np.int64).min


@dataclass(frozen=True)
class FileIndex:
    """The index of one file's complete blocks as it was when taken."""

    path: str
    inode: int
    size: int
    mtime_ns: int
    header: Header
    time_field: str | None
    """The header's time field when the schema has it as a top-level long, else ``None``."""
    offset: np.ndarray
    end: np.ndarray
    count: np.ndarray
    rx_min: np.ndarray
    rx_max: np.ndarray
    dev_min: np.ndarray
    """Blocks without a device time (no time field, all null) hold NO_MIN here."""
    dev_max: np.ndarray
    timed: bool = True
    """Whether the time arrays are there (else they are empty: only the blocks are known)."""

    @property
    def blocks(self) -> int:
        return len(self.offset)


class BlockIndexes:
    """The bounded, thread-safe cache of :class:`FileIndex` by path."""

    def __init__(self, max_blocks: int = MAX_BLOCKS, max_files: int = MAX_FILES) -> None:
        self.max_blocks = max_blocks
        self.max_files = max_files
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, FileIndex] = OrderedDict()
        self._blocks = 0
        self.indexed_blocks = 0
        """Blocks whose time columns were decoded to build indexes (a counter for tests)."""

    def get(self, path: str | os.PathLike[str], timed: bool = True) -> FileIndex | None:
        """The index of ``path`` as it is now (with its blocks' times when ``timed``); ``None``
        when its header is not complete yet. Raises ``OSError`` when the file cannot be read
        (e.g. it was deleted)."""
        return self.get_counted(path, timed)[0]

    def get_counted(
        self, path: str | os.PathLike[str], timed: bool = True
    ) -> tuple[FileIndex | None, int]:
        """:meth:`get`, and how many blocks' times it decoded to build or extend the index."""
        key = str(path)
        st = os.stat(key)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
        if cached is not None and _same(cached, st) and (cached.timed or not timed):
            return cached, 0
        timed = timed or (cached is not None and cached.timed)  # extending costs little
        prefix = cached if _extends(cached, st, timed) else None
        try:
            archive = open_archive(key, None if prefix is None else int(prefix.end[-1]))
            if prefix is not None and archive.header.sync != prefix.header.sync:
                archive.close()
                prefix, archive = None, open_archive(key)
        except IncompleteHeader:
            return None, 0
        with archive:
            index, built = _build(archive, prefix, timed)
        with self._lock:
            self.indexed_blocks += built
            old = self._entries.pop(key, None)
            self._blocks -= old.blocks if old is not None else 0
            self._entries[key] = index
            self._blocks += index.blocks
            while len(self._entries) > 1 and (
                self._blocks > self.max_blocks or len(self._entries) > self.max_files
            ):
                _, dropped = self._entries.popitem(last=False)
                self._blocks -= dropped.blocks
        return index, built

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._blocks = 0


def _same(index: FileIndex, st: os.stat_result) -> bool:
    return (index.inode, index.size, index.mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


_SCHEMAS: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
_SCHEMAS_KEPT = 64
_SCHEMAS_LOCK = threading.Lock()


def _shared(header: Header) -> Header:
    """``header`` holding the one copy of its schema (text and parsed) that every file of that
    schema version shares."""
    with _SCHEMAS_LOCK:
        kept = _SCHEMAS.get(header.schema_text)
        if kept is None:
            kept = _SCHEMAS[header.schema_text] = (header.schema_text, header.schema)
            while len(_SCHEMAS) > _SCHEMAS_KEPT:
                _SCHEMAS.popitem(last=False)
        _SCHEMAS.move_to_end(header.schema_text)
    return dataclasses.replace(header, schema_text=kept[0], schema=kept[1])


def _extends(cached: FileIndex | None, st: os.stat_result, timed: bool) -> bool:
    """Whether ``cached`` holds the first blocks of the file as it is now (the same file: its
    blocks never change), with times if they are wanted."""
    if cached is None or cached.inode != st.st_ino or not cached.blocks:
        return False
    return cached.timed or not timed


def _build(f: ArchiveFile, prefix: FileIndex | None, timed: bool) -> tuple[FileIndex, int]:
    """The index of ``f``: ``prefix``'s blocks (``f`` opened after them) and the blocks ``f``
    found. Returns it and how many blocks' times were decoded."""
    blocks = list(f.blocks())
    n = len(blocks)
    offset = np.fromiter((b.offset for b in blocks), np.int64, n)
    end = np.fromiter((b.end for b in blocks), np.int64, n)
    count = np.fromiter((b.count for b in blocks), np.int64, n)
    tf = time_field_of(f.header)
    none = np.zeros(0, np.int64)
    times: tuple[np.ndarray, ...] = _time_bounds(f, blocks, tf) if timed else (none,) * 4
    if prefix is not None:
        offset, end, count = (
            np.concatenate([old, new])
            for old, new in ((prefix.offset, offset), (prefix.end, end), (prefix.count, count))
        )
        if timed:
            old_times = (prefix.rx_min, prefix.rx_max, prefix.dev_min, prefix.dev_max)
            times = tuple(np.concatenate([o, t]) for o, t in zip(old_times, times, strict=True))
    rx_min, rx_max, dev_min, dev_max = times
    header = prefix.header if prefix is not None else _shared(f.header)
    index = FileIndex(
        str(f.path), f.inode, f.size, f.mtime_ns, header, tf,
        offset, end, count, rx_min, rx_max, dev_min, dev_max, timed=timed,
    )  # fmt: skip
    return index, n if timed else 0


def time_field_of(header: Header) -> str | None:
    """The header's time field when its schema has it as a top-level field of type long (or a
    union of null and long)."""
    name = header.time_field
    if not name:
        return None
    for field in header.schema.get("fields", []):
        if field.get("name") == name:
            t = field["type"]
            if isinstance(t, list):
                t = nullable_branch(t)
            return name if type_kind(t) == "long" else None
    return None


def _time_bounds(
    f: ArchiveFile, blocks: list[Any], tf: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per block: min and max rx_time, min and max device time."""
    n = len(blocks)
    counts = np.fromiter((b.count for b in blocks), np.int64, n)
    if n == 0 or not counts.sum():
        empty = np.full(n, NO_MIN), np.full(n, NO_MAX)
        return empty[0], empty[1], empty[0].copy(), empty[1].copy()
    runs = [(blocks[0].offset, blocks[-1].end)]
    rx, dev = time_columns(f, runs, tf)
    rx_min, rx_max = _per_block(rx, counts)
    if dev is None:
        return rx_min, rx_max, np.full(n, NO_MIN), np.full(n, NO_MAX)
    dev_min, dev_max = _per_block(dev, counts)
    return rx_min, rx_max, dev_min, dev_max


def _per_block(
    values: np.ma.MaskedArray | np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-block minimum and maximum of ``values`` (masked entries ignored)."""
    lo_vals = np.ma.filled(values, NO_MIN) if np.ma.isMaskedArray(values) else values
    hi_vals = np.ma.filled(values, NO_MAX) if np.ma.isMaskedArray(values) else values
    n = len(counts)
    lo = np.full(n, NO_MIN, np.int64)
    hi = np.full(n, NO_MAX, np.int64)
    nz = counts > 0
    starts = (np.cumsum(counts) - counts)[nz]
    lo[nz] = np.minimum.reduceat(lo_vals, starts)
    hi[nz] = np.maximum.reduceat(hi_vals, starts)
    return lo, hi


def time_columns(
    f: ArchiveFile, runs: list[tuple[int, int]], tf: str | None
) -> tuple[np.ndarray, np.ndarray | np.ma.MaskedArray | None]:
    """rx_time and the device time (masked where null) of the records in ``runs``."""
    wanted = ["rx_time"] if tf is None else ["rx_time", tf]
    text = polars_text(f.header.schema_text)
    if text is not None:
        try:
            return _time_polars(f, runs, text, wanted)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: B036 - a panic in polars is no Exception subclass
            pass
    return _time_fastavro(f, runs, wanted)


@functools.lru_cache(maxsize=256)
def polars_text(schema_text: str) -> str | None:
    schema = polars_schema(json.loads(schema_text))
    return None if schema is None else json.dumps(schema)


def _time_polars(
    f: ArchiveFile, runs: list[tuple[int, int]], text: str, wanted: list[str]
) -> tuple[np.ndarray, np.ndarray | np.ma.MaskedArray | None]:
    import polars as pl

    data = container_header(f.header, text) + f.read_blocks(runs)
    df = pl.read_avro(io.BytesIO(data), columns=wanted)
    rx = df.get_column("rx_time").to_numpy().astype(np.int64, copy=False)
    if len(wanted) == 1:
        return rx, None
    s = df.get_column(wanted[1])
    if s.null_count():
        values = s.fill_null(0).to_numpy().astype(np.int64, copy=False)
        return rx, np.ma.MaskedArray(values, s.is_null().to_numpy())
    return rx, s.to_numpy().astype(np.int64, copy=False)


def _time_fastavro(
    f: ArchiveFile, runs: list[tuple[int, int]], wanted: list[str]
) -> tuple[np.ndarray, np.ndarray | np.ma.MaskedArray | None]:
    """fastavro with a reader schema of the time fields alone (it skips the others)."""
    schema = f.header.schema
    fields = [
        {"name": fl["name"], "type": _raw(fl["type"])}
        for fl in schema["fields"]
        if fl["name"] in wanted
    ]
    reader: dict[str, Any] = {k: schema[k] for k in ("name", "namespace") if k in schema}
    reader.update(type="record", fields=fields)
    data = io.BytesIO(container_header(f.header) + f.read_blocks(runs))
    try:
        rows: list[dict[str, Any]] = list(fastavro.reader(data, reader_schema=reader))  # type: ignore[arg-type]
    except DECODE_ERRORS as exc:
        raise undecodable(f.path, exc) from exc
    rx = np.fromiter((r["rx_time"] for r in rows), np.int64, len(rows))
    if len(wanted) == 1:
        return rx, None
    raw = [r[wanted[1]] for r in rows]
    mask = np.fromiter((v is None for v in raw), bool, len(raw))
    values = np.fromiter((0 if v is None else v for v in raw), np.int64, len(raw))
    return rx, np.ma.MaskedArray(values, mask) if mask.any() else values


def _raw(t: Any) -> Any:
    if isinstance(t, dict) and "logicalType" in t:
        return {k: v for k, v in t.items() if k != "logicalType"}
    if isinstance(t, list):
        return [_raw(b) for b in t]
    return t


DECODE_ERRORS = (ValueError, EOFError, KeyError, IndexError, TypeError, OverflowError)
"""What fastavro raises on blocks whose bytes are no records of the schema."""


def undecodable(path: str | Path, exc: BaseException) -> ArchiveError:
    """The error for complete blocks (sync markers in place) whose records do not decode."""
    return ArchiveError(f"{path}: its blocks do not decode: {type(exc).__name__}: {exc}")


INDEXES = BlockIndexes()
"""The process's cache."""


def file_index(path: str | Path) -> FileIndex | None:
    return INDEXES.get(path)
