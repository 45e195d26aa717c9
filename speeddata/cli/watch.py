"""``sdctl events``, ``sdctl tail`` and ``sdctl status``: what the bus says, for people."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from speeddata.bus import Event, Gap, Subscriber
from speeddata.catalog import ChannelError, channel_names, find_channel
from speeddata.channels import Channel
from speeddata.cli._bus import bus_events
from speeddata.cli._common import (
    CliError,
    ConfigOption,
    CountOption,
    DataDirOption,
    TimeoutOption,
    settings_from,
    write_out,
)
from speeddata.cli._table import janitor_line, status_rows, status_table
from speeddata.events import EventError, batch_records, batch_schema
from speeddata.schema import fingerprint


def events(
    topic: Annotated[
        list[str],
        typer.Option(
            "--topic",
            "-t",
            help="Topic prefix of whole dot-separated segments (repeatable): relay.status, "
            "data.example, ingest. Default: every topic. One that no topic in "
            "proto/topics.yaml can match is an error.",
        ),
    ] = [""],  # noqa: B006 (typer reads the default, never mutates it)
    count: CountOption = 0,
    timeout: TimeoutOption = 0.0,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print bus events as JSON lines.

    Each line: {"topic", "event" (the event type), then the event's fields}.
    Timestamps are integers (ns since the Unix epoch); bytes fields, such as the records of
    data.<channel>, are hex strings.

    The bus drops what a reader too slow to keep up (a paused pager) cannot take, for that
    reader only. Lost events are found from the gaps in each source's seq: one line on stderr
    per gap, and a summary on stderr at exit when any were lost. Gaps are counted for the
    sources whose every topic is subscribed (all of them by default)."""
    settings = settings_from(config, data_dir)
    printed = 0
    feed = bus_events(settings, topic, timeout, on_gap=_report_gap, on_close=_report_losses)
    try:
        for event in feed:
            if event is None:
                continue
            _print_json({"topic": event.topic, "event": event.name, **event.fields})
            printed += 1
            if count and printed >= count:
                return
    finally:
        feed.close()  # the summary, also after Ctrl-C or a reader that left


def _report_gap(gap: Gap) -> None:
    seqs = f"seq {gap.first}" if gap.lost == 1 else f"seq {gap.first} to {gap.last}"
    _print_err(f"sdctl: lost {_events(gap.lost)} of {gap.source} ({seqs})")


def _report_losses(sub: Subscriber) -> None:
    """The summary at exit, when the subscriber lost anything (or got a loss back)."""
    if not sub.lost and not sub.late:
        return
    by_source = sorted(sub.lost_by_source().items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{source}: {n}" for source, n in by_source[:5])
    if len(by_source) > 5:
        shown += f", {len(by_source) - 5} more sources"
    gaps = "1 gap" if sub.gaps == 1 else f"{sub.gaps} gaps"
    line = f"sdctl: lost {_events(sub.lost)} in {gaps}" + (f" ({shown})" if shown else "")
    late = f"; {_events(sub.late)} counted lost came later" if sub.late else ""
    _print_err(line + late)


def _events(n: int) -> str:
    return "1 event" if n == 1 else f"{n} events"


def _print_err(line: str) -> None:
    """One line on stderr, never mixed into the JSON lines of stdout."""
    print(line, file=sys.stderr, flush=True)


def tail(
    channel: Annotated[str, typer.Argument(help="Channel name.")],
    signals: Annotated[
        str | None,
        typer.Option(help="Comma-separated signals to print (default: all); rx_time always."),
    ] = None,
    count: CountOption = 0,
    timeout: TimeoutOption = 0.0,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print a channel's live records as JSON lines.

    The decimated stream of the channel (data.<channel> on the bus), decoded;
    rx_time is the receive time in ns since the Unix epoch. Values are raw, as
    speeddata.archive reads them: logical types are ignored (a timestamp-millis
    is its int of ms, a decimal its bytes)."""
    settings = settings_from(config, data_dir)
    try:
        target = find_channel(settings, channel)
    except ChannelError as e:
        raise CliError(str(e)) from None
    decoder = _RecordDecoder(target, signals)
    printed = 0
    for event in bus_events(settings, f"data.{channel}", timeout):
        if event is None:
            continue
        for record in decoder.records(event):
            _print_json(record)
            printed += 1
            if count and printed >= count:
                return


def status(
    wait: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds to listen after the bus answered (> 0)."),
    ] = 1.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per channel instead of a table.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show every channel's relay, rate, drops, rejects and archive file.

    Read from the bus's last-value cache: relay state, restarts, records per second, kernel
    drops, rejected datagrams, unarchived records, the file being written; then, when the
    janitor's status came in the meantime, what retention deleted and why. Exits after --wait
    seconds."""
    settings = settings_from(config, data_dir)
    try:
        names = channel_names(settings)
    except ChannelError as e:
        raise CliError(str(e)) from None
    latest: dict[str, dict[str, Any]] = {}
    topics = ["relay.status", "ingest.relay", "janitor.status"]
    for event in bus_events(settings, topics, timeout=wait):
        if event is not None:
            latest[event.topic] = event.fields
    rows = status_rows(names, latest)
    if as_json:
        for row in rows:
            _print_json(row)
    else:
        janitor = latest.get("janitor.status")
        write_out(status_table(rows) + "\n" + (janitor_line(janitor) if janitor else ""))


class _RecordDecoder:
    """Decodes the archive-schema records of ``data.<channel>`` batches."""

    def __init__(self, channel: Channel, signals: str | None) -> None:
        schema = channel.archive_schema
        self._parsed = batch_schema(schema)
        self._channel = channel.name
        self._fingerprint = fingerprint(channel.schema)
        names = [f["name"] for f in schema["fields"]]
        self._keep: list[str] | None = None
        if signals:
            self._keep = ["rx_time", *(s.strip() for s in signals.split(",") if s.strip())]
            unknown = [s for s in self._keep if s not in names]
            if unknown:
                raise CliError(
                    f"channel {channel.name} has no signal {unknown[0]!r} "
                    f"(signals: {', '.join(names[1:])})"
                )

    def records(self, event: Event) -> list[dict[str, Any]]:
        if event.fields["fingerprint"] != self._fingerprint:
            raise CliError(
                f"data.{self._channel} carries schema {event.fields['fingerprint']}, the "
                f"configuration has {self._fingerprint}: was the schema changed?"
            )
        try:
            records = batch_records(event.fields, self._parsed)
        except EventError as e:
            raise CliError(f"data.{self._channel}: {e}; was the schema changed?") from None
        if self._keep:
            return [{k: r[k] for k in self._keep} for r in records]
        return records


def _print_json(obj: dict[str, Any]) -> None:
    write_out(json.dumps(obj, default=_jsonable, ensure_ascii=False) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    raise TypeError(f"cannot print {type(value).__name__} as JSON")
