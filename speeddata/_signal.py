"""The Signal array of ``speeddata.dataset`` and the name lookups its Set and Channel share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np


class AmbiguousName(AttributeError, KeyError):
    """A signal name that more than one channel of a set has: say which channel."""

    def __init__(self, name: str, channels: Iterable[str]) -> None:
        self.signal = name
        self.channels = tuple(channels)
        super().__init__(name)

    def __str__(self) -> str:
        candidates = ", ".join(f"{c}.{self.signal}" for c in self.channels)
        first = self.channels[0]
        return (
            f"signal {self.signal!r} is ambiguous: it is in channels {', '.join(self.channels)} "
            f"({candidates}); name the channel, e.g. s.{first}.{self.signal} or "
            f's["{first}.{self.signal}"]'
        )


class UnknownName(AttributeError, KeyError):
    """A channel or signal name that is not there; the message lists what is."""

    def __init__(self, what: str, name: str, known: Iterable[str]) -> None:
        self.name_asked = name
        self.known = tuple(known)
        self.what = what
        super().__init__(name)

    def __str__(self) -> str:
        listed = ", ".join(self.known[:40]) + (" ..." if len(self.known) > 40 else "")
        return f"no {self.what} {self.name_asked!r}; there are: {listed or 'none'}"


class Names(dict[str, Any]):
    """A dict of channels or signals by name: an unknown key's error lists the known ones,
    and Jupyter completes keys."""

    what = "name"

    def __init__(self, items: Iterable[tuple[str, Any]], what: str) -> None:
        super().__init__(items)
        self.what = what

    def __missing__(self, key: str) -> Any:
        raise UnknownName(self.what, key, self)

    def _ipython_key_completions_(self) -> list[str]:
        return list(self)


def count(n: int, word: str) -> str:
    """``1 row``, ``2,000 rows``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def span(t: np.ndarray | None) -> str:
    """``first .. last`` of a datetime64 vector (``NaT`` ignored), or ``no rows``."""
    if t is None or not len(t):
        return "no rows"
    present = t[~np.isnat(t)]
    if not len(present):
        return "no time"
    first, last = (np.datetime_as_string(x, unit="ms") + "Z" for x in (present[0], present[-1]))
    return f"{first} .. {last}"


class Signal(np.ndarray):
    """One signal's values: a numpy array that knows its ``name``, ``channel`` (the channel's
    name), ``units``, ``doc``, and ``t`` (also ``time``): its channel's time vector,
    datetime64[ns], one entry per value. ``valid`` is the per-row presence mask of a nullable
    field (``None`` when every value is present), ``symbols`` an enum's symbols (the values
    are their indexes).

    Indexing a Signal (a slice, a boolean mask) indexes its time vector and mask alike, so
    ``s[s > 0].t`` are the times of the positive values. Elementwise arithmetic keeps the
    metadata; reductions give plain numbers."""

    name: str
    channel: str
    units: str | None
    doc: str | None
    valid: np.ndarray | None
    symbols: tuple[str, ...] | None
    avro_type: Any
    _time: np.ndarray | None

    _META = ("name", "channel", "units", "doc", "symbols", "avro_type")

    def __new__(
        cls,
        values: np.ndarray,
        *,
        name: str,
        channel: str,
        time: np.ndarray | None = None,
        units: str | None = None,
        doc: str | None = None,
        valid: np.ndarray | None = None,
        symbols: tuple[str, ...] | None = None,
        avro_type: Any = None,
    ) -> Signal:
        out = np.asarray(values).view(cls)
        out.name, out.channel, out.units, out.doc = name, channel, units, doc
        out.symbols, out.avro_type = symbols, avro_type
        out._time, out.valid = time, valid
        return out

    def __array_finalize__(self, obj: Any) -> None:
        for key in self._META:
            setattr(self, key, getattr(obj, key, None))
        same = isinstance(obj, Signal) and obj.shape == self.shape
        self._time = obj._time if same else None
        self.valid = obj.valid if same else None
        if getattr(self, "name", None) is None:
            self.name, self.channel = "", ""

    def __array_wrap__(
        self, array: np.ndarray, context: Any = None, return_scalar: bool = False
    ) -> Any:
        if return_scalar or array.shape != self.shape:
            plain = array.view(np.ndarray)
            return plain[()] if return_scalar else plain
        return super().__array_wrap__(array, context, return_scalar)

    def __getitem__(self, index: Any) -> Any:
        out = super().__getitem__(index)
        if isinstance(out, Signal) and self.ndim == 1 and out.ndim == 1:
            out._time = self._time[index] if self._time is not None else None
            out.valid = self.valid[index] if self.valid is not None else None
        return out

    def __reduce__(self) -> Any:
        constructor, args, state = super().__reduce__()  # type: ignore[misc,str-unpack]
        meta = {key: getattr(self, key) for key in (*self._META, "valid", "_time")}
        return constructor, args, (state, meta)

    def __setstate__(self, state: Any) -> None:
        array_state, meta = state
        super().__setstate__(array_state)
        for key, value in meta.items():
            setattr(self, key, value)

    @property
    def t(self) -> np.ndarray | None:
        """The channel's time vector (datetime64[ns]) for these values; ``None`` when the
        array is no longer one value per row (e.g. a reshaped copy)."""
        return self._time

    @property
    def time(self) -> np.ndarray | None:
        """Same as :attr:`t`."""
        return self._time

    @property
    def values(self) -> np.ndarray:
        """The values as a plain numpy array."""
        return self.view(np.ndarray)

    def labels(self) -> np.ndarray:
        """An enum's values as their symbols (an object array); other signals raise."""
        if self.symbols is None:
            raise TypeError(f"{self.channel}.{self.name} is not an enum")
        return np.array(self.symbols, dtype=object)[self.view(np.ndarray)]

    def __repr__(self) -> str:
        units = f" [{self.units}]" if self.units else ""
        head = (
            f"Signal {self.channel}.{self.name}{units}: {self.dtype}, {count(self.size, 'value')}"
        )
        if self.ndim == 1:
            head += f", {span(self._time)}"
            if self.valid is not None:
                head += f", {int(np.count_nonzero(~self.valid)):,} null"
        body = np.array2string(self.view(np.ndarray), threshold=20, edgeitems=3)
        return f"{head}\n{body}"


class Record:
    """``ch.a`` for a nested record field ``a``: its fields as attributes (``ch.a.b``)."""

    def __init__(self, path: str, fields: dict[str, Any]) -> None:
        self._path = path
        bind(self, fields)

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        fields = [k for k in vars(self) if not k.startswith("_")]
        return f"<record {self._path}: {', '.join(fields)}>"


def nested(channel: str, signals: dict[str, Signal]) -> dict[str, Any]:
    """Signals by their first name segment: a Signal, or a :class:`Record` of the rest."""
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, Signal]] = {}
    for name, signal in signals.items():
        head, dot, rest = name.partition(".")
        if dot:
            groups.setdefault(head, {})[rest] = signal
        else:
            out[name] = signal
    for head, inner in groups.items():
        out.setdefault(head, Record(f"{channel}.{head}", nested(channel, inner)))
    return out


def bind(obj: object, names: dict[str, Any]) -> None:
    """``names`` as attributes of ``obj`` where they are identifiers that no attribute of it
    has already. Instance attributes (no ``__getattr__``): IPython's completer then evaluates
    ``s.example`` and ``s.channel`` safely and completes keys after them."""
    taken = set(dir(type(obj))) | set(vars(obj))
    for name, value in names.items():
        if name.isidentifier() and name not in taken and not name.startswith("_"):
            setattr(obj, name, value)


def ambiguous_subclass(cls: type, names: dict[str, tuple[str, ...]]) -> type:
    """A subclass of ``cls`` where reading each of ``names`` raises :class:`AmbiguousName`."""

    def raiser(name: str, owners: tuple[str, ...]) -> property:
        def get(self: object) -> Any:
            raise AmbiguousName(name, owners)

        return property(get)

    attrs = {n: raiser(n, owners) for n, owners in names.items() if n.isidentifier()}
    return type(cls.__name__, (cls,), {**attrs, "__qualname__": cls.__qualname__})
