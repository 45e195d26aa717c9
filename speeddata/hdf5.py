"""Channels' columns to one HDF5 file: the pivot's export format, read by ``read_hdf5``.

Layout (the contract's "HDF5 layout", ``../shared/ARCHITECTURE.md``)::

    /                      attrs: format="speeddata-set", format_version, speeddata_version,
                           created (ISO 8601 UTC), clock, range_start_ns/range_end_ns and
                           range_start/range_end (ISO; absent when open), channels
    /<channel>/            attrs: channel, schema (the archive schema, JSON), time_field and
                           time_unit ("" when none), clock, the range asked (as above),
                           files (archive file names), file_count, rows, signals (in order),
                           extra (JSON: what the reader recorded, e.g. schema versions)
    /<channel>/rx_time     int64 ns since the epoch, the relay's receive time
    /<channel>/<field>     one dataset per schema field (raw values), ``a.b`` for a nested
                           record's field; attrs encoding, avro_type (JSON), units, doc,
                           logicalType where the schema has them
    /<channel>/<field>.valid  bool, for a nullable field (and for one that some rows lack)

Every channel keeps its own time vector (``rx_time``, and its time field when declared).
How each type is stored is in :mod:`speeddata._hdf5_types`. Datasets are chunked (resizable,
so a channel can be written in several parts) and compressed as :class:`Compression` says.

    with HDF5Writer(path_or_file, compression="gzip:1") as out:
        out.write(columns)          # a ChannelColumns; again with the same channel appends

``target`` is a path or a writable, seekable binary file object (the pivot writes into an
unlinked temp file and streams it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from speeddata import _hdf5_types as types
from speeddata._hdf5_chunks import ParallelDeflate
from speeddata.columnar import ChannelColumns, Column

FORMAT = "speeddata-set"
FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 20
"""Target size of a chunk before compression (rows = this / the item size, at least 1024)."""
VLEN_CHUNK_ROWS = 65536


class CompressionError(ValueError):
    """A compression setting that is not one of ``none``, ``lzf``, ``gzip`` or ``gzip:N``."""


@dataclass(frozen=True)
class Compression:
    """How datasets are compressed: ``none``, ``lzf`` (fast, h5py's own filter: other HDF5
    readers may lack it), ``gzip`` or ``gzip:N`` (deflate level 0-9, default 4; every HDF5
    reader has it). Numeric datasets get the shuffle filter with a compressor."""

    method: str | None = None
    level: int | None = None

    @classmethod
    def parse(cls, spec: str | Compression | None) -> Compression:
        if isinstance(spec, Compression):
            return spec
        text = (spec or "none").strip().lower()
        method, _, level = text.partition(":")
        if method in ("none", "") and not level:
            return cls()
        if method == "lzf" and not level:
            return cls("lzf")
        if method == "gzip" and (not level or (level.isdigit() and int(level) <= 9)):
            return cls("gzip", int(level) if level else 4)
        raise CompressionError(
            f"compression {spec!r}: expected none, lzf, gzip or gzip:N with N in 0-9"
        )

    def with_level(self, level: int) -> Compression:
        """This compression at gzip ``level`` (ignored by ``none`` and ``lzf``)."""
        if self.method != "gzip":
            return self
        if not 0 <= level <= 9:
            raise CompressionError(f"gzip level {level}: expected 0-9")
        return Compression("gzip", level)

    def options(self, dtype: np.dtype) -> dict[str, Any]:
        """``create_dataset`` keyword arguments for a dataset of ``dtype``."""
        if self.method is None:
            return {}
        options: dict[str, Any] = {"compression": self.method}
        if self.level is not None:
            options["compression_opts"] = self.level
        if dtype.kind in "iuf" and dtype.itemsize > 1:
            options["shuffle"] = True
        return options

    def __str__(self) -> str:
        if self.method is None or self.level is None:
            return self.method or "none"
        return f"{self.method}:{self.level}"


def speeddata_version() -> str:
    from speeddata import __version__

    return __version__


class HDF5Writer:
    """Writes a set of channels to one HDF5 file (see the module's docstring)."""

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        compression: str | Compression | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        clock: str | None = None,
    ) -> None:
        self.compression = Compression.parse(compression)
        target_arg = os.fspath(target) if isinstance(target, str | Path) else target
        self.file = h5py.File(target_arg, "w", track_order=True)
        self._range: tuple[int | None, int | None] | None = None
        self._clock = clock
        if start_ns is not None or end_ns is not None:
            self._range = (start_ns, end_ns)
        self._channels: dict[str, _ChannelState] = {}
        self._deflate: ParallelDeflate | None = None
        if self.compression.method == "gzip" and self.compression.level is not None:
            self._deflate = ParallelDeflate(self.compression.level)
        attrs = self.file.attrs
        attrs["format"] = FORMAT
        attrs["format_version"] = FORMAT_VERSION
        attrs["speeddata_version"] = speeddata_version()
        attrs["created"] = datetime.now(UTC).isoformat(timespec="microseconds")

    def write(self, columns: ChannelColumns) -> None:
        """Adds ``columns`` as a channel's group, or appends its rows to the group the same
        channel got from an earlier call (same signals required)."""
        state = self._channels.get(columns.channel)
        if state is None:
            state = self._channels[columns.channel] = self._create(columns)
            if self._range is None:
                self._range = columns.range_ns
            if self._clock is None:
                self._clock = columns.clock
        else:
            state.append(columns)
        state.files.update(Path(f).name for f in columns.files)
        if self._deflate is not None:
            self._deflate.flush()

    def close(self) -> None:
        """Writes the set's and groups' summary attributes and closes the file."""
        if not self.file.id.valid:
            return
        try:
            if self._deflate is not None:
                self._deflate.close()
            for state in self._channels.values():
                state.finish()
            attrs = self.file.attrs
            attrs["channels"] = _names(list(self._channels))
            attrs["clock"] = self._clock or "rx"
            _range_attrs(attrs, self._range or (None, None))
        finally:
            self.file.close()

    def __enter__(self) -> HDF5Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_rows(self, dataset: h5py.Dataset, start: int, values: np.ndarray) -> None:
        if len(values) and not (self._deflate and self._deflate.submit(dataset, start, values)):
            _write(dataset, start, values)

    def _create(self, columns: ChannelColumns) -> _ChannelState:
        if not columns.channel or "/" in columns.channel or columns.channel == ".":
            raise ValueError(f"channel name {columns.channel!r} cannot name an HDF5 group")
        group = self.file.create_group(columns.channel, track_order=True)
        names = types.named_types(columns.schema)
        state = _ChannelState(group, self.compression, names, self._write_rows)
        attrs = group.attrs
        attrs["channel"] = columns.channel
        attrs["schema"] = columns.extra.get("schema_text") or json.dumps(columns.schema)
        attrs["time_field"] = columns.time_field or ""
        attrs["time_unit"] = columns.time_unit or ""
        attrs["clock"] = columns.clock
        _range_attrs(attrs, columns.range_ns)
        extra = {k: v for k, v in columns.extra.items() if k != "schema_text"}
        if extra:
            attrs["extra"] = json.dumps(extra, default=str)
        fields = types.fields_by_path(columns.schema)
        state.add("rx_time", np.asarray(columns.rx_time, dtype=np.int64), "native", _RX_ATTRS)
        state.rows = columns.rows
        for column in columns.columns.values():
            state.add_column(column, fields.get(column.name, {}))
        return state


_RX_ATTRS = {
    "units": "ns",
    "doc": "Receive time: the relay's kernel receive time of the record's datagram "
    "(CLOCK_REALTIME), ns since the Unix epoch",
    "logicalType": "timestamp-nanos",
    "avro_type": json.dumps({"type": "long", "logicalType": "timestamp-nanos"}),
}


class _ChannelState:
    """One channel's group while it is written: its datasets and what the summary needs."""

    def __init__(
        self,
        group: h5py.Group,
        compression: Compression,
        names: dict[str, Any],
        write: Callable[[h5py.Dataset, int, np.ndarray], None],
    ) -> None:
        self.group = group
        self.write = write
        self.compression = compression
        self.names = names
        self.signals: list[str] = []
        self.kinds: dict[str, types.Kind] = {}
        self.files: set[str] = set()
        self.rows = 0

    def add(self, name: str, values: np.ndarray, encoding: str, attrs: dict[str, Any]) -> None:
        self._dataset(name, values, values.dtype, encoding, attrs)

    def add_column(self, column: Column, field: dict[str, Any]) -> None:
        kind = types.kind_of(column.avro_type, self.names)
        self.kinds[column.name] = kind
        encoded = types.encode(column, kind, self.names)
        attrs = _field_attrs(column, field)
        self._dataset(column.name, encoded.values, encoded.dtype, encoded.encoding, attrs)
        self.signals.append(column.name)
        if kind.nullable or column.valid is not None:
            valid = _valid(column, encoded.encoding)
            doc = f"whether {column.name} has a value in the row (false: null or absent)"
            self._dataset(f"{column.name}.valid", valid, valid.dtype, "native", {"doc": doc})
            self.group[f"{column.name}.valid"].attrs["valid_for"] = column.name

    def append(self, columns: ChannelColumns) -> None:
        if list(columns.columns) != self.signals:
            raise ValueError(
                f"channel {columns.channel}: appended signals {list(columns.columns)} differ "
                f"from {self.signals}"
            )
        self._extend("rx_time", np.asarray(columns.rx_time, dtype=np.int64))
        for column in columns.columns.values():
            encoded = types.encode(column, self.kinds[column.name], self.names)
            self._extend(column.name, encoded.values)
            if f"{column.name}.valid" in self.group:
                self._extend(f"{column.name}.valid", _valid(column, encoded.encoding))
        self.rows += columns.rows

    def _extend(self, name: str, values: np.ndarray) -> None:
        dataset = self.group[name]
        start = dataset.shape[0]
        if len(values):
            dataset.resize((start + len(values),))
            self.write(dataset, start, values)

    def finish(self) -> None:
        attrs = self.group.attrs
        attrs["rows"] = self.rows
        attrs["signals"] = _names(self.signals)
        attrs["files"] = _names(sorted(self.files))
        attrs["file_count"] = len(self.files)

    def _dataset(
        self, name: str, values: np.ndarray, dtype: Any, encoding: str, attrs: dict[str, Any]
    ) -> None:
        n = len(values)
        itemsize = np.dtype(dtype).itemsize if np.dtype(dtype).kind != "O" else 0
        rows = max(1024, CHUNK_BYTES // itemsize) if itemsize else VLEN_CHUNK_ROWS
        dataset = self.group.create_dataset(
            name,
            shape=(n,),
            dtype=dtype,
            chunks=(min(rows, max(n, 1)),) if n else (rows,),
            maxshape=(None,),
            **self.compression.options(np.dtype(dtype)),
        )
        self.write(dataset, 0, values)
        dataset.attrs["encoding"] = encoding
        for key, value in attrs.items():
            dataset.attrs[key] = value


def _names(names: list[str]) -> np.ndarray:
    return np.array(names, dtype=h5py.string_dtype("utf-8"))


def _write(dataset: h5py.Dataset, start: int, values: np.ndarray) -> None:
    """Writes ``values`` at row ``start`` through the low-level API: ``Dataset.__setitem__``
    turns a StringDType array into an object array first, which doubles the time of a string
    column; ``DatasetID.write`` converts it directly."""
    n = len(values)
    if not n:
        return
    file_space = dataset.id.get_space()
    file_space.select_hyperslab((start,), (n,))
    memory_space = h5py.h5s.create_simple((n,))
    memory_type = h5py.h5t.py_create(dataset.dtype) if values.dtype.kind == "O" else None
    dataset.id.write(memory_space, file_space, np.ascontiguousarray(values), memory_type)


def _valid(column: Column, encoding: str) -> np.ndarray:
    """The column's validity: its mask, else (a union's JSON values) where a value is not
    None, else all rows."""
    if column.valid is None and encoding == "json":
        return np.array([v is not None for v in column.values], dtype=np.bool_)
    if column.valid is None:
        return np.ones(len(column.values), dtype=np.bool_)
    return np.asarray(column.valid, dtype=np.bool_)


def _field_attrs(column: Column, field: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"avro_type": json.dumps(column.avro_type)}
    units = field.get("units", field.get("unit"))
    if units is None and not field and column.units is not None:
        units = column.units
    if units is not None:
        attrs["units"] = str(units)
    if field.get("doc") is not None:
        attrs["doc"] = str(field["doc"])
    logical = field.get("logicalType")
    if logical is None and isinstance(column.avro_type, dict):
        logical = column.avro_type.get("logicalType")
    if logical is not None:
        attrs["logicalType"] = str(logical)
    return attrs


def _range_attrs(attrs: h5py.AttributeManager, range_ns: tuple[int | None, int | None]) -> None:
    for key, ns in zip(("range_start", "range_end"), range_ns, strict=True):
        if ns is not None:
            attrs[f"{key}_ns"] = np.int64(ns)
            attrs[key] = str(np.datetime64(int(ns), "ns")) + "Z"


def write_hdf5(
    channels: Iterable[ChannelColumns],
    target: str | os.PathLike[str] | IO[bytes],
    *,
    compression: str | Compression | None = None,
    compression_opts: int | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    clock: str | None = None,
) -> None:
    """Writes ``channels`` (one group each) to ``target``; see :class:`HDF5Writer`.
    ``compression`` as :class:`Compression` reads it; ``compression_opts`` the gzip level
    (as h5py's argument of that name)."""
    if compression_opts is not None:
        compression = Compression.parse(compression).with_level(compression_opts)
    with HDF5Writer(
        target, compression=compression, start_ns=start_ns, end_ns=end_ns, clock=clock
    ) as out:
        for columns in channels:
            out.write(columns)
