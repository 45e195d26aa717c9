"""A channel's columns as a table: CSV or Parquet, written in pieces so a response can stream
them, and several tables as one zip, streamed too.

A table has ``rx_time`` first (Parquet: ``timestamp[ns, UTC]``; CSV: integer nanoseconds), then
one column per signal with the raw values (:mod:`speeddata.columnar`); a null or absent value
is empty in CSV and null in Parquet. Enums are their symbols; in CSV bytes and fixed are hex,
and arrays, maps and other composite values JSON text (Parquet keeps arrays as lists, bytes as
binary). Parquet's schema metadata describes the channel (``speeddata.*`` keys)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from speeddata.columnar import ChannelColumns, Column

CSV_ROWS = 65_536
"""Rows per CSV piece."""
PARQUET_ROWS = 262_144
"""Rows per Parquet row group (one piece each)."""


class _Drain(io.RawIOBase):
    """A write-only, non-seekable sink whose bytes are taken out piece by piece."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._written += len(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _TellingDrain(_Drain):
    """A :class:`_Drain` that can say how much was written (pyarrow's writers ask)."""

    def tell(self) -> int:
        return self._written


def csv_pieces(cc: ChannelColumns) -> Iterator[bytes]:
    """The channel as CSV with a header line, in pieces of :data:`CSV_ROWS` rows."""
    table = arrow_table(cc, text=True)
    sink = _TellingDrain()
    with pa_csv.CSVWriter(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=CSV_ROWS) or [_empty_batch(table)]:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def parquet_pieces(cc: ChannelColumns) -> Iterator[bytes]:
    """The channel as one Parquet file, in pieces of a row group each."""
    table = arrow_table(cc, text=False)
    sink = _TellingDrain()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        for start in range(0, table.num_rows, PARQUET_ROWS):
            writer.write_table(table.slice(start, PARQUET_ROWS))
            yield sink.take()
    yield sink.take()


WRITERS: dict[str, tuple[Callable[[ChannelColumns], Iterator[bytes]], str, int]] = {
    "csv": (csv_pieces, "csv", zipfile.ZIP_DEFLATED),
    "parquet": (parquet_pieces, "parquet", zipfile.ZIP_STORED),
}
"""By format: the writer, the file extension, and how a zip stores such a file."""


def zip_pieces(entries: Iterable[tuple[str, Iterator[bytes]]], method: int) -> Iterator[bytes]:
    """One zip of the named files, each given in pieces; streamed (data descriptors, ZIP64)."""
    sink = _Drain()
    with zipfile.ZipFile(sink, "w", compression=method, compresslevel=1) as archive:
        for name, pieces in entries:
            with archive.open(name, "w", force_zip64=True) as member:
                for piece in pieces:
                    member.write(piece)
                    out = sink.take()
                    if out:
                        yield out
            yield sink.take()
    yield sink.take()


# -- columns to Arrow -------------------------------------------------------------------------


def arrow_table(cc: ChannelColumns, *, text: bool) -> pa.Table:
    """The channel as an Arrow table; ``text``: every value a CSV writer can write."""
    rx = (
        pa.array(cc.rx_time, pa.int64())
        if text
        else pa.array(cc.rx_time, pa.timestamp("ns", "UTC"))
    )
    arrays = {"rx_time": rx}
    for name, column in cc.columns.items():
        arrays[name] = _arrow(column, text)
    table = pa.table(arrays)
    return table.replace_schema_metadata(_metadata(cc))


def _metadata(cc: ChannelColumns) -> dict[str, str]:
    start, end = cc.range_ns
    return {
        "speeddata.channel": cc.channel,
        "speeddata.schema": json.dumps(cc.schema),
        "speeddata.time_field": cc.time_field or "",
        "speeddata.time_unit": cc.time_unit or "",
        "speeddata.clock": cc.clock,
        "speeddata.range_ns": json.dumps([start, end]),
        "speeddata.files": json.dumps([str(f).rpartition("/")[2] for f in cc.files]),
        "speeddata.records": str(cc.rows),
    }


def _arrow(column: Column, text: bool) -> pa.Array:
    values = column.values
    mask = None if column.valid is None else ~np.asarray(column.valid, bool)
    if column.symbols is not None and values.dtype.kind in "iu":
        return _enum(values, column.symbols, mask, text)
    if column.symbols is not None:  # an array of enums: each item's symbol
        symbols = np.array(column.symbols, dtype=object)
        values = np.array(
            [symbols[np.asarray(v, np.intp)].tolist() if v is not None else None for v in values]
            + [None],
            dtype=object,
        )[:-1]
    if values.dtype.kind == "V":  # fixed
        raw = [bytes(v) for v in values.tolist()]
        if text:
            return pa.array([r.hex() for r in raw], pa.string(), mask=mask)
        return pa.array(raw, pa.binary(values.dtype.itemsize), mask=mask)
    if values.dtype.kind in "biuf":
        return pa.array(values, mask=mask)
    return _objects(values, mask, text)


def _enum(
    values: np.ndarray, symbols: tuple[str, ...], mask: np.ndarray | None, text: bool
) -> pa.Array:
    """An enum column: its symbols (CSV), a dictionary array of them (Parquet)."""
    if text:
        names = np.array(symbols, dtype=object)[values.astype(np.intp)]
        return pa.array(names.tolist(), pa.string(), mask=mask)
    indices = pa.array(values.astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(symbols, pa.string()))


def _objects(values: np.ndarray, mask: np.ndarray | None, text: bool) -> pa.Array:
    """An object column: strings stay strings, bytes are binary (hex in CSV), anything else
    a list (Parquet) when Arrow takes it, else JSON text."""
    items = values.tolist()
    kinds = {type(v) for v in items}
    if kinds <= {str}:
        return pa.array(items, pa.string(), mask=mask)
    if kinds <= {bytes}:
        return pa.array(
            [v.hex() for v in items] if text else items,
            mask=mask,
            type=pa.string() if text else pa.binary(),
        )
    if not text:
        try:
            if kinds <= {dict, type(None)}:  # an Avro map: an Arrow map, string keys
                return _map(items, mask)
            return pa.array([_plain(v) for v in items], mask=mask)
        except (pa.ArrowException, TypeError, ValueError):
            pass
    return pa.array(
        [json.dumps(_plain(v), default=_json_default) for v in items], pa.string(), mask=mask
    )


def _map(items: list[Any], mask: np.ndarray | None) -> pa.Array:
    plain = [_plain(v) if v is not None else None for v in items]
    inner = pa.array([x for d in plain if d for x in d.values()]).type
    pairs = [list(d.items()) if d is not None else None for d in plain]
    return pa.array(pairs, pa.map_(pa.string(), inner), mask=mask)


def _plain(value: Any) -> Any:
    """Numpy arrays and scalars as Python values (recursively)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


def _empty_batch(table: pa.Table) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=table.schema)
