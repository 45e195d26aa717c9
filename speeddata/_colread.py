"""The machinery of :func:`speeddata.columnar.read_channel`: which blocks of which files to
decode, decoding them (polars, else fastavro), the rows in the range, and each reader column
resolved across the files' schema versions.

Files read by polars are kept as polars frames, filtered to the range there, and consecutive
files of one schema version concatenated before their columns become numpy arrays (one
conversion per column and version, no per-file copies)."""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import fastavro
import numpy as np

from speeddata import archive
from speeddata._blockindex import (
    DECODE_ERRORS,
    INDEXES,
    FileIndex,
    polars_text,
    undecodable,
)
from speeddata._coldecode import Decoded, columns_from_frame, decode_records, leaf_dtype
from speeddata._flatschema import Leaf, Names, flatten, names_of
from speeddata._resolve import resolve
from speeddata.archive import Header
from speeddata.schema import RX_TIME_FIELD

CLOCKS = ("device", "rx")
NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class UnknownSignal(LookupError):
    """A signal asked for that no schema of the files (nor the reader schema) has."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal

    def __str__(self) -> str:
        return f"unknown signal {self.signal!r}"


@dataclass
class ReadStats:
    """What one :func:`speeddata.columnar.read_channel` did (its ``extra["stats"]``, as a
    dict)."""

    files: int = 0
    """Files given that have a complete header."""
    files_read: int = 0
    """Files with at least one block decoded."""
    blocks: int = 0
    """Complete blocks of the files given."""
    blocks_decoded: int = 0
    records_decoded: int = 0
    bytes_decoded: int = 0
    records: int = 0
    """Records in the range (rows of the result)."""
    blocks_indexed: int = 0
    """Blocks whose time columns were decoded to build or extend block indexes."""
    polars_files: int = 0
    fastavro_files: int = 0
    skipped: list[str] = field(default_factory=list)
    """Files left out: header not complete yet, or gone."""


@dataclass
class Part:
    """Rows in the range of consecutive files of one schema version, decoded."""

    paths: list[str]
    header: Header
    leaves: dict[str, Leaf]
    decoded: Decoded
    rows: int


@dataclass
class Result:
    """What :class:`Reader` found, for :mod:`speeddata.columnar` to make columns of."""

    schema: dict[str, Any]
    newest: Header | None
    time_field: str | None
    device: bool
    rx_time: np.ndarray
    leaves: list[Leaf]
    parts: list[Part]
    stats: ReadStats


@dataclass
class _Frame:
    """One file's rows in the range as a polars frame, not yet numpy."""

    path: str
    header: Header
    leaves: list[Leaf]
    frame: Any


class Reader:
    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        start_ns: int | None,
        end_ns: int | None,
        clock: str,
        signals: Sequence[str] | None,
        reader_schema: dict[str, Any] | None,
    ) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
        self.files = [str(f) for f in files]
        self.start_ns, self.end_ns = start_ns, end_ns
        self.bounded = start_ns is not None or end_ns is not None
        self.clock = clock
        self.signals = signals
        self.reader_schema = reader_schema
        self.stats = ReadStats()
        self.device = False

    def read(self) -> Result:
        newest = self._newest()
        schema = self.reader_schema or (newest.schema if newest else None)
        schema = with_rx_time(schema) if schema else {}
        time_field = _time_field(schema, newest)
        self.device = self.clock == "device" and time_field is not None
        indexes = self._indexes()
        reader = flat(json.dumps(schema)) if schema else []
        reader_names = {leaf.name for leaf in reader}
        known = reader_names | {alias for leaf in reader for alias in leaf.aliases}
        wanted = self._wanted(reader, _removed_leaves(indexes, known), time_field)
        parts = self._parts(indexes, wanted)
        seen = {name for p in parts for name in p.leaves}
        leaves = [leaf for leaf in wanted if leaf.name in reader_names or leaf.name in seen]
        rx = _concat([p.decoded["rx_time"][0] for p in parts], np.dtype(np.int64))
        self.stats.records = len(rx)
        return Result(schema, newest, time_field, self.device, rx, leaves, parts, self.stats)

    def _newest(self) -> Header | None:
        """The header of the newest file that has one."""
        for path in reversed(self.files):
            try:
                index, built = INDEXES.get_counted(path, timed=False)
            except OSError:
                continue
            self.stats.blocks_indexed += built
            if index is not None:
                return index.header
        return None

    def _indexes(self) -> list[FileIndex]:
        """The files' block indexes (with their blocks' times when the range is bounded);
        files with no complete header yet, or gone, are skipped."""
        out = []
        for path in self.files:
            try:
                index, built = INDEXES.get_counted(path, timed=self.bounded)
            except OSError:
                index, built = None, 0
            self.stats.blocks_indexed += built
            if index is None:
                self.stats.skipped.append(path)
                continue
            out.append(index)
            self.stats.files += 1
            self.stats.blocks += index.blocks
        return out

    def _wanted(self, reader: list[Leaf], others: list[Leaf], time_field: str | None) -> list[Leaf]:
        every = [*reader, *others]
        if self.signals is None:
            return every
        picked: set[str] = {"rx_time"} | ({time_field} if time_field else set())
        for signal in self.signals:
            hits = {leaf.name for leaf in every if _matches(leaf.name, signal)}
            if not hits and signal != "rx_time":
                raise UnknownSignal(signal)
            picked |= hits
        return [leaf for leaf in every if leaf.name in picked]

    def _parts(self, indexes: list[FileIndex], wanted: list[Leaf]) -> list[Part]:
        """Each file's rows in the range; polars frames of one schema version in a row are
        joined before they become numpy."""
        parts: list[Part] = []
        pending: list[_Frame] = []
        for index in indexes:
            got = self._read_file(index, wanted)
            if isinstance(got, _Frame) and (
                not pending or pending[0].header.schema_text == got.header.schema_text
            ):
                pending.append(got)
                continue
            parts += _joined(pending)
            pending = [got] if isinstance(got, _Frame) else []
            if isinstance(got, Part):
                parts.append(got)
        return parts + _joined(pending)

    def _select(self, index: FileIndex) -> np.ndarray:
        """Which blocks of the file can hold records of the range."""
        lo, hi = self.start_ns, self.end_ns
        if not self.bounded:
            return index.count > 0
        if not self.device:
            bmin, bmax = index.rx_min, index.rx_max
        elif index.time_field is None:
            return np.zeros(index.blocks, bool)
        else:
            lo, hi = in_unit(lo, hi, index.header.time_unit)
            bmin, bmax = index.dev_min, index.dev_max
        keep = index.count > 0
        if lo is not None:
            keep &= bmax >= lo
        if hi is not None:
            keep &= bmin < hi
        return keep

    def _read_file(self, index: FileIndex, wanted: list[Leaf]) -> _Frame | Part | None:
        selected = self._select(index)
        if not selected.any():
            return None
        runs = _runs(index, selected)
        writer = {leaf.name: leaf for leaf in flat(index.header.schema_text)}
        names = {name for leaf in wanted for name in (leaf.name, *leaf.aliases)} | {"rx_time"}
        if index.time_field:
            names.add(index.time_field)
        leaves = [writer[n] for n in writer if n in names]
        try:
            data = archive.read_known_blocks(index.path, index.header, index.inode, runs)
        except (OSError, archive.ArchiveError):
            self.stats.skipped.append(index.path)
            return None
        self.stats.files_read += 1
        self.stats.blocks_decoded += int(np.count_nonzero(selected))
        self.stats.bytes_decoded += len(data)
        frame = self._polars(index.header, data, leaves)
        if frame is not None:
            self.stats.polars_files += 1
            self.stats.records_decoded += frame.height
            rows = (
                self._rows(index, _time_values(frame, index, self.device)) if self.bounded else None
            )
            frame = frame if rows is None else frame.filter(rows)
            return _Frame(index.path, index.header, leaves, frame)
        self.stats.fastavro_files += 1
        stream = io.BytesIO(archive.container_header(index.header) + data)
        try:
            records = cast(Iterable[dict[str, Any]], fastavro.reader(stream))
            decoded = decode_records(records, leaves)
        except DECODE_ERRORS as exc:
            raise undecodable(index.path, exc) from exc
        n = len(decoded["rx_time"][0])
        self.stats.records_decoded += n
        key = index.time_field if self.device else "rx_time"
        rows = self._rows(index, decoded[key] if key else (np.zeros(0, np.int64), None))
        if rows is not None:
            decoded = {k: (v[rows], _masked(ok, rows)) for k, (v, ok) in decoded.items()}
            n = int(np.count_nonzero(rows))
        return Part([index.path], index.header, {leaf.name: leaf for leaf in leaves}, decoded, n)

    def _polars(self, header: Header, blocks: bytes, leaves: list[Leaf]) -> Any | None:
        """The blocks as a polars frame of the leaves' top-level fields, ``None`` when polars
        cannot read them."""
        text = polars_text(header.schema_text)
        if text is None:
            return None
        try:
            import polars as pl

            container = io.BytesIO(archive.container_header(header, text) + blocks)
            top = list(dict.fromkeys(leaf.path[0] for leaf in leaves))
            return pl.read_avro(container, columns=top)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: B036 - a panic in polars is no Exception subclass
            return None

    def _rows(
        self, index: FileIndex, time: tuple[np.ndarray, np.ndarray | None]
    ) -> np.ndarray | None:
        """Which decoded rows lie in the range (``None``: all), by their time values."""
        lo, hi = self.start_ns, self.end_ns
        if not self.bounded:
            return None
        if self.device:
            lo, hi = in_unit(lo, hi, index.header.time_unit)
        values, valid = time
        mask = np.ones(len(values), bool) if valid is None else valid.copy()
        if lo is not None:
            mask &= values >= lo
        if hi is not None:
            mask &= values < hi
        return None if mask.all() else mask


def _time_values(
    frame: Any, index: FileIndex, device: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame's rx_time, or device time (with its validity), as int64."""
    s = frame.get_column(index.time_field if device and index.time_field else "rx_time")
    if s.null_count():
        return s.fill_null(0).to_numpy().astype(np.int64), ~s.is_null().to_numpy()
    return s.to_numpy().astype(np.int64, copy=False), None


def _joined(frames: list[_Frame]) -> list[Part]:
    """Frames of one schema version as one part."""
    if not frames:
        return []
    import polars as pl

    first = frames[0]
    frame = pl.concat([f.frame for f in frames], how="vertical", rechunk=False)
    decoded = columns_from_frame(frame, first.leaves, names(first.header.schema_text))
    leaves = {leaf.name: leaf for leaf in first.leaves}
    return [Part([f.path for f in frames], first.header, leaves, decoded, frame.height)]


def merged(leaf: Leaf, parts: list[Part]) -> tuple[np.ndarray, np.ndarray | None]:
    """The reader column ``leaf`` over all parts: each resolved from its schema version."""
    values: list[np.ndarray] = []
    valid: list[np.ndarray | None] = []
    for part in parts:
        v, ok = resolve(part.decoded, writer_leaf(part.leaves, leaf), leaf, part.rows)
        values.append(v)
        valid.append(ok)
    mask = None
    if any(ok is not None for ok in valid):
        masks = [
            np.ones(len(v), bool) if ok is None else ok for v, ok in zip(values, valid, strict=True)
        ]
        mask = _concat(masks, np.dtype(bool))
    return _concat(values, leaf_dtype(leaf)), mask


def writer_leaf(writer: dict[str, Leaf], reader: Leaf) -> Leaf | None:
    """The writer's leaf that the reader's reads: by its name, else by one of its aliases."""
    found = writer.get(reader.name)
    for alias in reader.aliases:
        found = found or writer.get(alias)
    return found


def _masked(valid: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if valid is None else valid[rows]


def _matches(name: str, signal: str) -> bool:
    return name == signal or name.startswith(signal + ".")


def in_unit(lo: int | None, hi: int | None, unit: str | None) -> tuple[int | None, int | None]:
    """``[lo, hi)`` in ns as the same range of integers in ``unit`` (rounded up: a value v is
    in the range when v * unit >= lo and v * unit < hi)."""
    mult = NS_PER_UNIT.get(unit or "ns", 1)

    def up(x: int | None) -> int | None:
        return None if x is None else min(max(-(-x // mult), _INT64_MIN), _INT64_MAX)

    return up(lo), up(hi)


def _runs(index: FileIndex, selected: np.ndarray) -> list[tuple[int, int]]:
    """Byte ranges of the runs of consecutive selected blocks."""
    idx = np.flatnonzero(selected)
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [
        (int(index.offset[g[0]]), int(index.end[g[-1]])) for g in np.split(idx, breaks) if len(g)
    ]


def with_rx_time(schema: dict[str, Any]) -> dict[str, Any]:
    """An archive schema as it is, a channel schema with ``rx_time`` put first."""
    fields = schema.get("fields", [])
    if fields and fields[0].get("name") == "rx_time":
        return schema
    return {**schema, "fields": [RX_TIME_FIELD, *fields]}


def _time_field(schema: dict[str, Any], newest: Header | None) -> str | None:
    name = newest.time_field if newest else None
    fields = {f.get("name") for f in schema.get("fields", [])}
    return name if name and name in fields else None


def _removed_leaves(indexes: list[FileIndex], reader: set[str]) -> list[Leaf]:
    """Leaves of the files' schemas that the reader lacks, the newest version's type, in the
    order of the newest file they appear in."""
    found: dict[str, Leaf] = {}
    for index in reversed(indexes):
        for leaf in flat(index.header.schema_text):
            if leaf.name not in reader and leaf.name not in found:
                found[leaf.name] = leaf
    return list(found.values())


@functools.lru_cache(maxsize=256)
def flat(schema_text: str) -> list[Leaf]:
    return flatten(json.loads(schema_text))


@functools.lru_cache(maxsize=256)
def names(schema_text: str) -> Names:
    return names_of(json.loads(schema_text))


def _concat(arrays: list[np.ndarray], dtype: np.dtype[Any]) -> np.ndarray:
    if not arrays:
        return np.zeros(0, dtype)
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
