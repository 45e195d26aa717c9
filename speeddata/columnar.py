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
- ``array``: an object array of numpy arrays of the item type (for enum items, the codes,
  with the symbols in :attr:`Column.symbols`);
- what has no column form (maps, unions of several non-null types, recursive records,
  ``null``, arrays of records, of arrays or of unions): an object array of the values as
  fastavro decodes them (dicts, lists, ``None``).

:func:`channel_files` picks a channel's files for a range and :func:`read_channel` reads them:
only the blocks that can hold records of the range are decoded (a per-file block index of the
blocks' smallest and largest ``rx_time`` and device time, kept in-process), the file being
written up to its last complete block, older schema versions resolved to the newest. How and
why: docs/decisions/2026-12-01-columnar-archive-reader.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speeddata import archive
from speeddata._blockindex import INDEXES
from speeddata._colread import CLOCKS, NS_PER_UNIT, Part, Reader, ReadStats, UnknownSignal, merged
from speeddata._flatschema import Leaf

__all__ = [
    "NS_PER_UNIT",
    "ChannelColumns",
    "Column",
    "ReadStats",
    "UnknownSignal",
    "channel_files",
    "read_channel",
    "warm_index",
]


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
    symbols map by name.

    ``extra`` holds ``stats`` (a dict of :class:`ReadStats`: files, blocks and records read),
    ``schema_versions`` (the fingerprints of the files' schemas read, oldest first) and
    ``schema_text`` (the reader schema's exact text when it is a file's header's)."""
    result = Reader(files, start_ns, end_ns, clock, signals, reader_schema).read()
    newest = result.newest
    unit = (newest.time_unit if newest else None) or "ns"
    return ChannelColumns(
        channel=channel or (newest.channel if newest else None) or _channel_of(files) or "",
        schema=result.schema,
        time_field=result.time_field,
        time_unit=unit if result.time_field else None,
        rx_time=result.rx_time,
        columns={
            leaf.name: _column(leaf, result.parts)
            for leaf in result.leaves
            if leaf.name != "rx_time"
        },
        files=tuple(path for part in result.parts for path in part.paths),
        range_ns=(start_ns, end_ns),
        clock="device" if result.device else "rx",
        extra={
            "stats": dataclasses.asdict(result.stats),
            "schema_versions": list(
                dict.fromkeys(p.header.fingerprint or "" for p in result.parts)
            ),
            "schema_text": (
                newest.schema_text
                if newest is not None and result.schema is newest.schema
                else json.dumps(result.schema)
            ),
        },
    )


def warm_index(files: Sequence[str | os.PathLike[str]]) -> int:
    """Build the block indexes of ``files`` (with their blocks' times) ahead of the reads that
    need them, e.g. on a thread when a service starts: the first read of a range on the device
    clock indexes every file of the channel, since device time can be anything. Files that
    are gone or whose header is incomplete are passed over. Returns the blocks indexed."""
    built = 0
    for path in files:
        with contextlib.suppress(OSError):
            built += INDEXES.get_counted(path, timed=True)[1]
    return built


def _channel_of(files: Sequence[str | os.PathLike[str]]) -> str | None:
    for path in files:
        parsed = archive.parse_archive_name(Path(path).name)
        if parsed:
            return parsed.channel
    return None


def _column(leaf: Leaf, parts: list[Part]) -> Column:
    values, valid = merged(leaf, parts)
    f = leaf.field or {}
    units = f.get("units") or f.get("unit") or f.get("doc")
    return Column(
        name=leaf.name,
        values=values,
        avro_type=f.get("type", leaf.avro_type),
        valid=valid,
        units=units if isinstance(units, str) else None,
        symbols=leaf.symbols or (leaf.item.symbols if leaf.item else None) or None,
    )
