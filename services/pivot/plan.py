"""From an :class:`~services.pivot.query.ExportQuery` to what will be read: each channel known
(404 naming it otherwise), each signal asked one of its signals (404 naming it), the archive
files of the range, and the limits checked (413 saying which). Then :func:`read` reads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.pivot.channels import ChannelInfo, Registry, lookup, signal_names
from services.pivot.query import ExportQuery
from speeddata._weberrors import ApiError
from speeddata.archive import ArchiveError, open_archive
from speeddata.columnar import ChannelColumns, UnknownSignal, channel_files, read_channel
from speeddata.config import Settings
from speeddata.timespec import NS_PER_S

SHOWN_SIGNALS = 20
"""How many of a channel's signals a 404 lists."""


@dataclass(frozen=True)
class ChannelPlan:
    info: ChannelInfo
    files: tuple[Path, ...]
    signals: tuple[str, ...] | None
    """The leaf signals to read; ``None``: all."""
    clock: str


@dataclass(frozen=True)
class Plan:
    query: ExportQuery
    channels: tuple[ChannelPlan, ...]
    records_bound: int
    """Records in the complete blocks of the files of the range (an upper bound)."""


def check_request_limits(query: ExportQuery, settings: Settings) -> None:
    """413 when the query names too many channels or too long a range."""
    limits = settings.pivot
    if len(query.channels) > limits.max_channels:
        raise ApiError(
            413,
            "too_many_channels",
            f"{len(query.channels)} channels asked; at most {limits.max_channels} per export "
            "(pivot.max_channels)",
            limit="max_channels",
        )
    span_s = (query.end_ns - query.start_ns) / NS_PER_S
    if span_s > limits.max_span_s:
        raise ApiError(
            413,
            "range_too_long",
            f"the range is {span_s:.12g} s long; at most {limits.max_span_s:.12g} s per export "
            "(pivot.max_span_s)",
            limit="max_span_s",
        )


def make_plan(query: ExportQuery, settings: Settings, registry: Registry) -> Plan:
    """What the query reads; raises :class:`ApiError` 404 or 413 (blocking: run it off the
    event loop)."""
    check_request_limits(query, settings)
    channels = []
    for name in query.channels:
        info = lookup(name, settings, registry)
        if info is None:
            raise ApiError(
                404,
                "unknown_channel",
                f"unknown channel {name!r}: the registry does not know it and the archive has "
                "no files of it",
                channel=name,
            )
        clock = query.clock if info.time_field else "rx"
        files = channel_files(settings.data_dir, name, query.start_ns, query.end_ns, clock=clock)
        _check_older_signals(info, query.signals.get(name), files)
        signals = _signals(info, query.signals.get(name))
        channels.append(ChannelPlan(info, tuple(files), signals, clock))
    # On rx_time the files' names select them closely: their records bound the export before
    # anything is decoded. On the device clock every file is a candidate; the records read
    # are counted instead (see read).
    bound = sum(_records_in(f) for c in channels if c.clock == "rx" for f in c.files)
    _check_records(bound, settings, "the archive files of this range hold")
    return Plan(query, tuple(channels), bound)


def read(plan: Plan, settings: Settings) -> list[ChannelColumns]:
    """Every channel's columns over the range (blocking); 413 once more records than
    ``pivot.max_records`` were read."""
    q = plan.query
    out: list[ChannelColumns] = []
    for c in plan.channels:
        try:
            columns = read_channel(
                list(c.files),
                start_ns=q.start_ns,
                end_ns=q.end_ns,
                clock=c.clock,
                signals=list(c.signals) if c.signals is not None else None,
                reader_schema=c.info.schema,
                channel=c.info.name,
            )
        except UnknownSignal as e:
            raise unknown_signal(c.info, e.signal) from None
        out.append(columns)
        _check_records(sum(x.rows for x in out), settings, "this range holds")
    return out


def _check_records(count: int, settings: Settings, what: str) -> None:
    limit = settings.pivot.max_records
    if count > limit:
        raise ApiError(
            413,
            "too_many_records",
            f"{what} {count} records; at most {limit} per export (pivot.max_records): ask a "
            "shorter range or fewer channels",
            limit="max_records",
        )


def _signals(info: ChannelInfo, asked: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The leaf signals of the names asked (the time field too, so the channel keeps its
    time vector). A name the reader schema lacks goes to the reader as it is: a field that an
    older schema version of the range had is still there (else the reader's UnknownSignal is
    the 404)."""
    if asked is None:
        return None
    known = info.signals
    leaves: list[str] = []
    for name in asked:
        leaves += known.get(name, (name,))
    if info.time_field and info.time_field in known:
        leaves = [*known[info.time_field], *leaves]
    return tuple(dict.fromkeys(leaves))


def _check_older_signals(
    info: ChannelInfo, asked: tuple[str, ...] | None, files: list[Path]
) -> None:
    """A name the reader schema lacks must be one of an older schema version in ``files``
    (their headers say), else the 404 comes now, before anything is read or a tag accepted."""
    missing = [n for n in asked or () if n not in info.signals]
    if not missing:
        return
    older: set[str] = set()
    for path in files:
        try:
            with open_archive(path) as f:
                older.update(signal_names(f.header.schema))
        except (ArchiveError, OSError):
            continue  # just created or gone: the reader skips it too
        missing = [n for n in missing if n not in older]
        if not missing:
            return
    raise unknown_signal(info, missing[0])


def unknown_signal(info: ChannelInfo, name: str) -> ApiError:
    """The 404 of a signal the channel does not have, listing those it has."""
    known = info.signals
    listed = ", ".join(list(known)[:SHOWN_SIGNALS])
    more = ", ..." if len(known) > SHOWN_SIGNALS else ""
    return ApiError(
        404,
        "unknown_signal",
        f"channel {info.name!r} has no signal {name!r} (its signals: {listed}{more})",
        channel=info.name,
        signal=name,
    )


def _records_in(path: Path) -> int:
    """Records in the file's complete blocks (0 for a file just created or unreadable)."""
    try:
        with open_archive(path) as f:
            return f.record_count
    except (ArchiveError, OSError):
        return 0
