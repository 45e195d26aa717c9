"""Archive records as columns: what the pivot, ``read_avro`` and the stripchart's history read.

A :class:`ChannelColumns` is one channel over one time range: the archive's ``rx_time`` and one
:class:`Column` per signal of the reader schema, each a numpy array with one entry per record,
in archive order. Values are raw, as :mod:`speeddata.archive` reads them (logical types are
not applied).

Column values by Avro type:

- ``int`` int32, ``long`` int64, ``float`` float32, ``double`` float64, ``boolean`` bool;
- ``string`` an object array of ``str``; ``bytes`` an object array of ``bytes``; ``fixed`` of
  size n a ``V<n>`` array;
- ``enum`` the symbol's index (the smallest unsigned integer type that holds it), with the
  symbols in :attr:`Column.symbols`;
- a union of ``null`` and one type: that type's values with :attr:`Column.valid` (``False``
  where the value is null; the value there is 0, NaN or empty);
- a nested record's fields: a column each, named ``a.b``;
- ``array``: an object array of numpy arrays of the item type;
- what has no column form (maps, unions of several non-null types, recursive records, arrays
  of those): an object array of the values as decoded.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speeddata import archive
from speeddata._blockindex import INDEXES, FileIndex, polars_text
from speeddata._coldecode import Decoded, decode_polars, decode_records, leaf_dtype
from speeddata._flatschema import Leaf, Names, flatten, names_of
from speeddata._resolve import resolve
from speeddata.archive import Header
from speeddata.schema import RX_TIME_FIELD

NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True)
class Column:
    """One signal: its values, and what a reader needs to make sense of them."""

    name: str
    values: np.ndarray
    avro_type: Any
    """The field's type in the reader schema (logical types kept)."""
    valid: np.ndarray | None = None
    """Per row, whether the value is present (nullable fields, and fields that a schema
    version of the range lacks); ``None`` when every value is."""
    units: str | None = None
    """The field's ``units`` (or ``unit``) attribute, else its ``doc``."""
    symbols: tuple[str, ...] | None = None
    """An enum's symbols, indexed by the values (for an array of enums, by its items)."""


@dataclass(frozen=True)
class ChannelColumns:
    """One channel's records over a range, as columns."""

    channel: str
    schema: dict[str, Any]
    """The reader archive schema (``rx_time`` first): the newest version of the range."""
    time_field: str | None
    time_unit: str | None
    """The unit of ``time_field``'s values: ``s``, ``ms``, ``us`` or ``ns``."""
    rx_time: np.ndarray
    """int64 nanoseconds since the epoch, the relay's receive time of each record."""
    columns: dict[str, Column]
    """Every signal asked for (all by default), in schema order; ``rx_time`` is not one."""
    files: tuple[str, ...] = ()
    """The archive files the records were read from."""
    range_ns: tuple[int | None, int | None] = (None, None)
    """The range asked, ``[start, end)`` in ns since the epoch on the clock ``clock``."""
    clock: str = "rx"
    """``device`` when the range was selected on ``time_field``, else ``rx``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a reader recorded (e.g. the schema versions met)."""

    @property
    def rows(self) -> int:
        return len(self.rx_time)

    def time_ns(self) -> np.ndarray:
        """The channel's time vector in int64 ns: device time where declared, else ``rx_time``."""
        if self.time_field is None or self.time_field not in self.columns:
            return self.rx_time
        values = self.columns[self.time_field].values.astype(np.int64, copy=False)
        return values * NS_PER_UNIT[self.time_unit or "ns"]


# -- reading the archive ----------------------------------------------------------------------

NAME_MARGIN_S = 120
"""Seconds by which a file's records may lie outside the span its name and the next file's name
give (records wait up to a flush period in the relay before the file they go to is created; a
clock step back of less than this inside a file leaves no trace in the names)."""


class UnknownSignal(LookupError):
    """A signal asked for that no schema of the files (nor the reader schema) has."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal

    def __str__(self) -> str:
        return f"unknown signal {self.signal!r}"


@dataclass
class ReadStats:
    """What one :func:`read_channel` did (also in ``ChannelColumns.extra["stats"]``)."""

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


def channel_files(
    data_dir: str | os.PathLike[str],
    channel: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    *,
    clock: str = "rx",
) -> list[Path]:
    """The channel's archive files, oldest first, that may hold records of ``[start_ns,
    end_ns)`` on ``clock``; the one being written included.

    On ``rx`` the start times in the file names select: a file's records run from about its
    start to the next file's (:data:`NAME_MARGIN_S` either side); where the names go back in
    time (the clock stepped back) the files around the step may hold anything and are kept. On
    ``device`` every file is returned (device time can be anything): :func:`read_channel`'s
    block index selects."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
    files = archive.archive_files(data_dir, channel)
    if clock == "device" or (start_ns is None and end_ns is None) or not files:
        return files
    names = [archive.parse_archive_name(p.name) for p in files]
    starts = [int(n.start.timestamp()) * 1_000_000_000 if n else 0 for n in names]
    margin = NAME_MARGIN_S * 1_000_000_000
    # A file's records lie after the earliest start of the files from it on (a later file
    # with an earlier name means the clock stepped back) and before the latest start of the
    # files up to the next one (+1 s: names are whole seconds).
    suffix_min = list(itertools.accumulate(reversed(starts), min))[::-1]
    prefix_max = list(itertools.accumulate(starts, max))
    lo_ns = -(2**63) if start_ns is None else start_ns
    hi_ns = 2**63 if end_ns is None else end_ns
    out = []
    for i, path in enumerate(files):
        lo = suffix_min[i] - margin
        hi = prefix_max[i + 1] + 1_000_000_000 + margin if i + 1 < len(files) else 2**63
        if lo < hi_ns and hi > lo_ns:
            out.append(path)
    return out


def read_channel(
    files: Sequence[str | os.PathLike[str]],
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    clock: str = "device",
    signals: Sequence[str] | None = None,
    reader_schema: dict[str, Any] | None = None,
    channel: str | None = None,
) -> ChannelColumns:
    """The records of ``files`` (one channel's, oldest first) in ``[start_ns, end_ns)`` on
    ``clock`` as columns.

    ``clock="device"`` selects on the channel's time field (falling back to ``rx`` when it
    declares none), converted to ns by its unit. Only the blocks whose index says they can hold
    records of the range are decoded; a file being written is read up to its last complete
    block; a file with no complete header yet (or gone) is skipped.

    ``signals``: names of the reader schema's fields (top level, or dotted nested; a record
    field means all its fields) or ``None`` for all; the time field is always included.
    Raises :class:`UnknownSignal` for a name no schema has.

    ``reader_schema``: the archive schema to read with (``rx_time`` first; a channel schema
    gets it added), by default the newest file's. Files of other schema versions are resolved
    by Avro's rules: a field the reader adds takes its default in older records (absent, i.e.
    ``valid`` False, without one); a field the reader lacks stays, after the reader's fields,
    with ``valid`` False for the rows of files without it; numbers are promoted (int to
    long/float/double, long to float/double, float to double), string and bytes convert, enum
    symbols map by name."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
    return _Reader(files, start_ns, end_ns, clock, signals, reader_schema, channel).read()


CLOCKS = ("device", "rx")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _Part:
    """One file's rows in the range: decoded writer columns, resolved later."""

    def __init__(self, index: FileIndex, leaves: dict[str, Leaf], decoded: Decoded, rows: int):
        self.index = index
        self.leaves = leaves
        self.decoded = decoded
        self.rows = rows


class _Reader:
    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        start_ns: int | None,
        end_ns: int | None,
        clock: str,
        signals: Sequence[str] | None,
        reader_schema: dict[str, Any] | None,
        channel: str | None,
    ) -> None:
        self.files = [str(f) for f in files]
        self.start_ns, self.end_ns = start_ns, end_ns
        self.clock = clock
        self.signals = signals
        self.reader_schema = reader_schema
        self.channel = channel
        self.stats = ReadStats()

    def read(self) -> ChannelColumns:
        indexes = self._indexes()
        newest = indexes[-1].header if indexes else None
        schema = self.reader_schema or (newest.schema if newest else None)
        schema = _with_rx_time(schema) if schema else {}
        time_field = _time_field(schema, newest)
        self.device = self.clock == "device" and time_field is not None
        reader = _flat(json.dumps(schema)) if schema else []
        reader_names = {leaf.name for leaf in reader}
        others = _removed_leaves(indexes, reader_names)
        wanted = self._wanted(reader, others, time_field)
        parts = [p for p in (self._read_file(idx, wanted) for idx in indexes) if p is not None]
        seen = {name for p in parts for name in p.leaves}
        out_leaves = [leaf for leaf in wanted if leaf.name in reader_names or leaf.name in seen]
        rx = _concat([p.decoded["rx_time"][0] for p in parts], np.dtype(np.int64))
        columns = {leaf.name: _column(leaf, parts) for leaf in out_leaves if leaf.name != "rx_time"}
        self.stats.records = len(rx)
        name = self.channel or (newest.channel if newest else None) or _channel_of(self.files)
        return ChannelColumns(
            channel=name or "",
            schema=schema,
            time_field=time_field,
            time_unit=((newest.time_unit if newest else None) or "ns") if time_field else None,
            rx_time=rx,
            columns=columns,
            files=tuple(p.index.path for p in parts),
            range_ns=(self.start_ns, self.end_ns),
            clock="device" if self.device else "rx",
            extra={
                "stats": self.stats,
                "schema_versions": list(
                    dict.fromkeys(p.index.header.fingerprint or "" for p in parts)
                ),
            },
        )

    def _indexes(self) -> list[FileIndex]:
        out = []
        before = INDEXES.indexed_blocks
        for path in self.files:
            try:
                index = INDEXES.get(path)
            except OSError:
                index = None
            if index is None:
                self.stats.skipped.append(path)
                continue
            out.append(index)
            self.stats.files += 1
            self.stats.blocks += index.blocks
        self.stats.blocks_indexed = max(0, INDEXES.indexed_blocks - before)
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

    def _select(self, index: FileIndex) -> np.ndarray:
        """Which blocks of the file can hold records of the range."""
        lo, hi = self.start_ns, self.end_ns
        if lo is None and hi is None:
            return index.count > 0
        if not self.device:
            bmin, bmax = index.rx_min, index.rx_max
        elif index.time_field is None:
            return np.zeros(index.blocks, bool)
        else:
            lo, hi = _in_unit(lo, hi, index.header.time_unit)
            bmin, bmax = index.dev_min, index.dev_max
        keep = index.count > 0
        if lo is not None:
            keep &= bmax >= lo
        if hi is not None:
            keep &= bmin < hi
        return keep

    def _read_file(self, index: FileIndex, wanted: list[Leaf]) -> _Part | None:
        selected = self._select(index)
        if not selected.any():
            return None
        runs = _runs(index, selected)
        writer = {leaf.name: leaf for leaf in _flat(index.header.schema_text)}
        names = {leaf.name for leaf in wanted} | {"rx_time"}
        if index.time_field:
            names.add(index.time_field)
        leaves = [writer[n] for n in writer if n in names]
        try:
            f = archive.open_archive(index.path)
        except (OSError, archive.ArchiveError):
            self.stats.skipped.append(index.path)
            return None
        with f:
            decoded = self._decode(f, runs, leaves)
        self.stats.files_read += 1
        self.stats.blocks_decoded += int(selected.sum())
        self.stats.bytes_decoded += sum(e - s for s, e in runs)
        n = len(decoded["rx_time"][0])
        self.stats.records_decoded += n
        mask = self._rows(index, decoded)
        if mask is not None:
            decoded = {k: (v[mask], _masked(ok, mask)) for k, (v, ok) in decoded.items()}
            n = int(mask.sum())
        return _Part(index, {leaf.name: leaf for leaf in leaves}, decoded, n)

    def _decode(
        self, f: archive.ArchiveFile, runs: list[tuple[int, int]], leaves: list[Leaf]
    ) -> Decoded:
        text = polars_text(f.header.schema_text)
        if text is not None:
            try:
                container = f.header_bytes(text) + f.read_blocks(runs)
                decoded = decode_polars(container, leaves, _names(f.header.schema_text))
                self.stats.polars_files += 1
                return decoded
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: B036 - a panic in polars is no Exception subclass
                pass
        self.stats.fastavro_files += 1
        records = itertools.chain.from_iterable(f.records(s, e) for s, e in runs)
        return decode_records(records, leaves)

    def _rows(self, index: FileIndex, decoded: Decoded) -> np.ndarray | None:
        """Which decoded rows lie in the range (``None``: all)."""
        lo, hi = self.start_ns, self.end_ns
        if lo is None and hi is None:
            return None
        if self.device:
            assert index.time_field is not None
            values, valid = decoded[index.time_field]
            lo, hi = _in_unit(lo, hi, index.header.time_unit)
        else:
            values, valid = decoded["rx_time"]
        mask = np.ones(len(values), bool) if valid is None else valid.copy()
        if lo is not None:
            mask &= values >= lo
        if hi is not None:
            mask &= values < hi
        return None if mask.all() else mask


def _masked(valid: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if valid is None else valid[rows]


def _matches(name: str, signal: str) -> bool:
    return name == signal or name.startswith(signal + ".")


def _in_unit(lo: int | None, hi: int | None, unit: str | None) -> tuple[int | None, int | None]:
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


def _with_rx_time(schema: dict[str, Any]) -> dict[str, Any]:
    fields = schema.get("fields", [])
    if fields and fields[0].get("name") == "rx_time":
        return schema
    return {**schema, "fields": [RX_TIME_FIELD, *fields]}


def _time_field(schema: dict[str, Any], newest: Header | None) -> str | None:
    name = newest.time_field if newest else None
    names = {f.get("name") for f in schema.get("fields", [])}
    return name if name and name in names else None


def _channel_of(files: list[str]) -> str | None:
    for path in files:
        parsed = archive.parse_archive_name(Path(path).name)
        if parsed:
            return parsed.channel
    return None


def _removed_leaves(indexes: list[FileIndex], reader: set[str]) -> list[Leaf]:
    """Leaves of the files' schemas that the reader lacks, newest version first for the type,
    in the order of the oldest file they appear in."""
    found: dict[str, Leaf] = {}
    for index in reversed(indexes):
        for leaf in _flat(index.header.schema_text):
            if leaf.name not in reader and leaf.name not in found:
                found[leaf.name] = leaf
    return list(found.values())


@functools.lru_cache(maxsize=256)
def _flat(schema_text: str) -> list[Leaf]:
    return flatten(json.loads(schema_text))


@functools.lru_cache(maxsize=256)
def _names(schema_text: str) -> Names:
    return names_of(json.loads(schema_text))


def _concat(arrays: list[np.ndarray], dtype: np.dtype[Any]) -> np.ndarray:
    if not arrays:
        return np.zeros(0, dtype)
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _column(leaf: Leaf, parts: list[_Part]) -> Column:
    values: list[np.ndarray] = []
    valid: list[np.ndarray | None] = []
    for part in parts:
        v, ok = resolve(part.decoded, part.leaves.get(leaf.name), leaf, part.rows)
        values.append(v)
        valid.append(ok)
    mask = None
    if any(ok is not None for ok in valid):
        masks = [
            np.ones(len(v), bool) if ok is None else ok for v, ok in zip(values, valid, strict=True)
        ]
        mask = _concat(masks, np.dtype(bool))
    f = leaf.field or {}
    units = f.get("units") or f.get("unit") or f.get("doc")
    return Column(
        name=leaf.name,
        values=_concat(values, leaf_dtype(leaf)),
        avro_type=f.get("type", leaf.avro_type),
        valid=mask,
        units=units if isinstance(units, str) else None,
        symbols=leaf.symbols or (leaf.item.symbols if leaf.item else None) or None,
    )
