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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    """An enum's symbols, indexed by the values."""


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
