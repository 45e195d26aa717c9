"""DataSet: exports and archive files as Sets of Channels of Signals, for Jupyter and scripts.

A :class:`Set` is several channels over one time range (one HDF5 export, or archive files read
directly); a :class:`Channel` is one channel's signals with their time vector; a
:class:`~speeddata._signal.Signal` is one signal's values, a numpy array that knows its
channel, name, units and times. The original SpeedData's access forms all work::

    s = read_hdf5("export.h5")                  # or read_avro("var/archive/example")
    s.channel["example"].signal["sine_wave"]
    s.channel["example"].sine_wave
    s.example.sine_wave                         # a Signal
    s.example.time                              # device time where declared, else rx_time
    s.sine_wave                                 # when one channel only has that signal
    s["example.sine_wave"], s.example["sine_wave"]

``Channel.time`` is the channel's time vector as datetime64[ns]: its ``time_field`` converted
from its unit where the channel declares one (NaT where a row lacks it), else ``rx_time``. A
schema field that is itself named ``time`` stays reachable as ``ch.signal["time"]`` (its raw
values). A name that several channels have raises :class:`AmbiguousName` listing them (as
an attribute or a key); a missing key raises :class:`UnknownName` listing what there is (both
are ``AttributeError`` and ``KeyError``). A nested record's field ``a.b`` is
``ch.signal["a.b"]`` or ``ch.a.b``. Names that are also attributes of these classes (``name``,
``rows``, ``to_pandas``, ...) are reached with ``signal[...]``/``channel[...]``.

Channels and signals are plain instance attributes (no ``__getattr__``), so Jupyter completes
them, and keys after ``s.channel[`` or ``s.example[``, under IPython's default (safe)
evaluation.

``to_pandas()``: a Channel gives one DataFrame indexed by its time vector; a Set gives a dict
of them by channel name (channels keep their own times, so there is no single table).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from speeddata import _hdf5_types as types
from speeddata._dataset_pandas import pandas_column, pandas_module
from speeddata._dataset_sources import TimeLike, archive_files, reader_schema, to_ns
from speeddata._signal import (
    AmbiguousName,
    Names,
    Signal,
    UnknownName,
    ambiguous_subclass,
    bind,
    count,
    nested,
    span,
)
from speeddata.columnar import NS_PER_UNIT, ChannelColumns

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AmbiguousName",
    "Channel",
    "Set",
    "Signal",
    "UnknownName",
    "read_avro",
    "read_hdf5",
    "to_ns",
]


class Channel:
    """One channel of a set: its signals (``signal``, by name), its time vector ``time``
    (datetime64[ns]), ``rx_time`` (int64 ns), ``schema``, ``time_field`` and ``time_unit``,
    and ``attrs`` (what the file says about it: the range asked, source files, counts)."""

    def __init__(self, columns: ChannelColumns, attrs: dict[str, Any] | None = None) -> None:
        self.name = columns.channel
        self.schema = columns.schema
        self.time_field = columns.time_field
        self.time_unit = columns.time_unit
        self.clock = columns.clock
        self.files = columns.files
        self.range_ns = columns.range_ns
        self.attrs = dict(attrs or {})
        self.rx_time = np.asarray(columns.rx_time, dtype=np.int64)
        self.time = _time_vector(columns)
        fields = types.fields_by_path(columns.schema)
        self._names = types.named_types(columns.schema)
        self.signal: Names = Names(
            ((name, _signal(self.name, c, fields.get(name, {}), self.time))
             for name, c in columns.columns.items()),
            f"signal of channel {self.name}",
        )  # fmt: skip
        bind(self, nested(self.name, self.signal))

    @property
    def rows(self) -> int:
        return len(self.rx_time)

    @property
    def signals(self) -> list[str]:
        """The signal names, in schema order."""
        return list(self.signal)

    if TYPE_CHECKING:  # for type checkers only: at run time names are instance attributes

        def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, name: str) -> Signal:
        return self.signal[name]  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in self.signal

    def __len__(self) -> int:
        return self.rows

    def _ipython_key_completions_(self) -> list[str]:
        return list(self.signal)

    def __repr__(self) -> str:
        clock = f"device time {self.time_field!r}" if self._device_time else "rx_time"
        lines = [
            f"Channel {self.name}: {count(len(self.signal), 'signal')}, {count(self.rows, 'row')}, "
            f"{span(self.time)} ({clock})"
        ]
        for name, sig in self.signal.items():
            units = f" [{sig.units}]" if sig.units else ""
            kind = _type_label(sig, self._names)
            null = ", nullable" if sig.valid is not None else ""
            lines.append(f"  {name}{units}: {kind}{null}")
        return "\n".join(lines)

    @property
    def _device_time(self) -> bool:
        return self.time_field is not None and self.time_field in self.signal

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame indexed by the time vector: named after the time field (whose raw
        column it replaces) where the channel declares one, else ``rx_time``; a column per
        signal, plus ``rx_time`` (datetime64[ns]) on device time. Enums become categoricals,
        nullable fields pandas' nullable types (``<NA>`` for null), fixed values ``bytes``."""
        pd = pandas_module()
        index_name = self.time_field if self._device_time else "rx_time"
        data: dict[str, Any] = {}
        if self._device_time:
            data["rx_time"] = self.rx_time.view("datetime64[ns]")
        for name, sig in self.signal.items():
            if name != index_name:
                data[name] = pandas_column(pd, sig)
        index = pd.DatetimeIndex(self.time, name=index_name)
        return pd.DataFrame(data, index=index)


class Set:
    """Channels over a time range: ``channel`` (by name), ``attrs`` (the file's attributes,
    or what was read), ``source`` (the path read, if any)."""

    def __init__(
        self,
        channels: Iterable[ChannelColumns],
        attrs: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> None:
        self.attrs = dict(attrs or {})
        self.source = source
        self.channel: Names = Names(
            ((c.channel, Channel(c, c.extra.get("attrs"))) for c in channels), "channel"
        )
        owners = self._owners()
        unique = {s: self.channel[o[0]].signal[s] for s, o in owners.items() if len(o) == 1}
        bind(self, {**self.channel, **unique})
        self._mark_ambiguous()

    def _mark_ambiguous(self) -> None:
        shared = {s: o for s, o in self._owners().items() if len(o) > 1 and s not in vars(self)}
        if shared:
            self.__class__ = ambiguous_subclass(Set, shared)

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore_set, (vars(self),)

    @classmethod
    def from_hdf5(cls, path: str | os.PathLike[str] | IO[bytes]) -> Set:
        """Same as :func:`read_hdf5`."""
        return read_hdf5(path)

    @classmethod
    def from_avro(
        cls,
        path: str | os.PathLike[str],
        schema: str | os.PathLike[str] | dict[str, Any] | None = None,
        channel: str | None = None,
        *,
        start: TimeLike = None,
        end: TimeLike = None,
        clock: str = "device",
    ) -> Set:
        """Same as :func:`read_avro`; also the original's form ``from_avro(file, schema,
        channel)``: ``schema`` (a path, JSON text or dict) is then the reader schema (the
        files' own schemas are resolved to it) and ``channel`` names the channel."""
        return read_avro(path, start, end, clock=clock, schema=schema, channel=channel)

    @property
    def channels(self) -> list[str]:
        return list(self.channel)

    def signals(self) -> list[str]:
        """Every signal as ``channel.signal``."""
        return [f"{c}.{s}" for c, ch in self.channel.items() for s in ch.signal]

    if TYPE_CHECKING:  # for type checkers only: at run time names are instance attributes

        def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, name: str) -> Any:
        """A channel by name, a signal as ``channel.signal``, or a signal by its name alone
        when exactly one channel has it."""
        if name in self.channel:
            return self.channel[name]
        head, dot, rest = name.partition(".")
        if dot and head in self.channel:
            return self.channel[head].signal[rest]
        owners = [c for c, ch in self.channel.items() if name in ch.signal]
        if len(owners) > 1:
            raise AmbiguousName(name, owners)
        if owners:
            return self.channel[owners[0]].signal[name]
        raise UnknownName("channel or signal", name, [*self.channel, *self._unique_signals()])

    def _owners(self) -> dict[str, tuple[str, ...]]:
        """Each signal name: the channels that have it."""
        owners: dict[str, list[str]] = {}
        for c, ch in self.channel.items():
            for s in ch.signal:
                owners.setdefault(s, []).append(c)
        return {s: tuple(o) for s, o in owners.items()}

    def _unique_signals(self) -> list[str]:
        owned = self._owners().items()
        return [s for s, o in owned if len(o) == 1 and s not in self.channel]

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channel.values())

    def __len__(self) -> int:
        return len(self.channel)

    def __contains__(self, name: object) -> bool:
        return name in self.channel

    def __dir__(self) -> list[str]:
        shared = {s for s, o in self._owners().items() if len(o) > 1}
        return sorted(set(super().__dir__()) - shared)

    def _ipython_key_completions_(self) -> list[str]:
        return [*self.channel, *self.signals(), *self._unique_signals()]

    def __repr__(self) -> str:
        total = sum(ch.rows for ch in self)
        head = f"Set: {count(len(self), 'channel')}, {count(total, 'row')}"
        start, end = self.attrs.get("range_start"), self.attrs.get("range_end")
        if start or end:
            head += f", range [{start or '...'}, {end or '...'}) on {self.attrs.get('clock')}"
        if self.source:
            head += f", from {self.source}"
        lines = [head]
        for ch in self:
            lines.append(f"  {ch.name}: {count(ch.rows, 'row')}, {span(ch.time)}")
            lines.append(f"    signals: {', '.join(ch.signal)}")
        return "\n".join(lines)

    def to_pandas(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per channel (:meth:`Channel.to_pandas`), by channel name."""
        return {name: ch.to_pandas() for name, ch in self.channel.items()}


def _restore_set(state: dict[str, Any]) -> Set:
    """A pickled :class:`Set` (its class may be a per-set subclass, which pickle cannot name)."""
    restored = Set.__new__(Set)
    restored.__dict__.update(state)
    restored._mark_ambiguous()
    return restored


def read_hdf5(path: str | os.PathLike[str] | IO[bytes]) -> Set:
    """The set in an HDF5 export (the pivot's, or :mod:`speeddata.hdf5`'s)."""
    from speeddata._hdf5_read import read_columns

    found = read_columns(path)
    source = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    return Set(found.channels, found.attrs, source)


def read_avro(
    path: str | os.PathLike[str],
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    clock: str = "device",
    signals: Iterable[str] | None = None,
    schema: str | os.PathLike[str] | dict[str, Any] | None = None,
    channel: str | None = None,
) -> Set:
    """Archive files read directly (the one being written included, up to its last complete
    block). ``path``: one ``.avro`` file, a channel's folder (``<data>/archive/<channel>``),
    the archive folder or a data dir (every channel in it). ``start``/``end``: the range
    ``[start, end)`` on the device clock where the channel declares one (``clock="rx"``: on
    ``rx_time``), each a datetime (naive = UTC), numpy datetime64, ISO 8601 text or int ns.
    ``signals``: field names to read (default all). ``schema``: a reader schema (path, JSON
    text or dict), ``channel``: the name to give a single channel."""
    from speeddata.columnar import read_channel

    start_ns, end_ns = to_ns(start), to_ns(end)
    reader = reader_schema(schema)
    wanted = list(signals) if signals is not None else None
    found = [
        read_channel(
            files,
            start_ns=start_ns,
            end_ns=end_ns,
            clock=clock,
            signals=wanted,
            reader_schema=reader,
            channel=name if channel is None else channel,
        )
        for name, files in archive_files(Path(path), start_ns, end_ns, clock)
    ]
    attrs: dict[str, Any] = {"clock": clock}
    for key, ns in (("range_start", start_ns), ("range_end", end_ns)):
        if ns is not None:
            attrs[key], attrs[f"{key}_ns"] = str(np.datetime64(ns, "ns")) + "Z", ns
    return Set(found, attrs, os.fspath(path))


def _time_vector(columns: ChannelColumns) -> np.ndarray:
    column = columns.columns.get(columns.time_field or "")
    if column is None or column.values.dtype.kind not in "iu":
        return np.asarray(columns.rx_time, dtype=np.int64).view("datetime64[ns]")
    ns = column.values.astype(np.int64) * NS_PER_UNIT[columns.time_unit or "ns"]
    time = ns.view("datetime64[ns]")
    if column.valid is not None:
        time = time.copy()
        time[~column.valid] = np.datetime64("NaT")
    return time


def _signal(channel: str, column: Any, field: dict[str, Any], time: np.ndarray) -> Signal:
    units = field.get("units", field.get("unit"))
    if units is None and not field:
        units = column.units
    return Signal(
        column.values,
        name=column.name,
        channel=channel,
        time=time,
        units=None if units is None else str(units),
        doc=field.get("doc"),
        valid=column.valid,
        symbols=column.symbols,
        avro_type=column.avro_type,
    )


def _type_label(sig: Signal, names: dict[str, Any]) -> str:
    """A signal's type for reprs: the numpy type of numbers, else the Avro kind."""
    if sig.symbols is not None:
        return f"enum {'|'.join(sig.symbols)}"
    if sig.dtype.kind == "V":
        return f"fixed({sig.dtype.itemsize})"
    if sig.dtype.kind in "biuf":
        return str(sig.dtype)
    return types.kind_of(sig.avro_type, names).name


def _identifiers(names: Iterable[str]) -> list[str]:
    return [n for n in names if n.isidentifier()]
