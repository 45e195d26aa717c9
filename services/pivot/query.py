"""The export's query string as an :class:`ExportQuery`, or a 400 that says what is wrong.

``start`` (required) and exactly one of ``end`` or ``duration`` (see :mod:`speeddata.timespec`),
``channels`` (required, comma-separated; may repeat), ``signals`` (``channel.signal``,
comma-separated; may repeat), ``format`` (``hdf5``, ``csv``, ``parquet``), ``time``
(``device``, ``rx``). Any other parameter, or a single-valued one given twice, is a 400 too: a
typo must not silently export something else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from speeddata._weberrors import ApiError
from speeddata.timespec import TimeSpecError, time_range

FORMATS = ("hdf5", "csv", "parquet")
CLOCKS = ("device", "rx")
SINGLE = ("start", "end", "duration", "format", "time")
LISTS = ("channels", "signals")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
"""A channel name (the registry's rule)."""


@dataclass(frozen=True)
class ExportQuery:
    start_ns: int
    end_ns: int
    channels: tuple[str, ...]
    """In the order asked, each once."""
    signals: dict[str, tuple[str, ...]]
    """The signals asked of a channel, for the channels that ``signals`` names (the others
    export every signal)."""
    format: str
    clock: str


def bad(detail: str, code: str = "malformed") -> ApiError:
    return ApiError(400, code, detail)


def parse_query(params: QueryParams, now: int | None = None) -> ExportQuery:
    """The export asked by ``params``; raises :class:`ApiError` 400 naming the problem."""
    for key in params:
        if key not in SINGLE and key not in LISTS:
            raise bad(f"unknown parameter {key!r} (parameters: {', '.join(SINGLE + LISTS)})")
    for key in SINGLE:
        if len(params.getlist(key)) > 1:
            raise bad(f"parameter {key!r} is given more than once")
    start = params.get("start")
    if not start:
        raise bad("start is required: an ISO 8601 time, now, or now-30s")
    try:
        start_ns, end_ns = time_range(start, params.get("end"), params.get("duration"), now)
    except TimeSpecError as e:
        raise bad(str(e), "bad_time") from None
    channels = _channels(params)
    return ExportQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        channels=channels,
        signals=_signals(params, channels),
        format=_choice(params, "format", FORMATS),
        clock=_choice(params, "time", CLOCKS),
    )


def _items(params: QueryParams, key: str) -> list[str]:
    """The comma-separated items of every ``key`` parameter, stripped, empty ones dropped."""
    return [
        item.strip() for value in params.getlist(key) for item in value.split(",") if item.strip()
    ]


def _channels(params: QueryParams) -> tuple[str, ...]:
    names = _items(params, "channels")
    if not names:
        raise bad("channels is required: one or more channel names, comma-separated")
    for name in names:
        if not NAME.fullmatch(name):
            raise bad(f"bad channel name {name!r}: names are [a-z][a-z0-9_-]{{0,62}}")
    return tuple(dict.fromkeys(names))


def _signals(params: QueryParams, channels: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for item in _items(params, "signals"):
        channel, dot, signal = item.partition(".")
        if not dot or not signal:
            raise bad(f"bad signal {item!r}: signals are channel.signal (example.sine_wave)")
        if channel not in channels:
            raise bad(f"signal {item!r} is of channel {channel!r}, which channels does not list")
        if signal not in out.setdefault(channel, []):
            out[channel].append(signal)
    return {channel: tuple(names) for channel, names in out.items()}


def _choice(params: QueryParams, key: str, choices: tuple[str, ...]) -> str:
    value = params.get(key, choices[0])
    if value not in choices:
        raise bad(f"bad {key} {value!r}: one of {', '.join(choices)}")
    return value
