"""``sdctl export``: a time range of channels from the pivot to a file, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from speeddata._export import copy_body, download, export_params, pivot_url, stream_export
from speeddata._http import ClientError, Unreachable
from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from
from speeddata.timespec import DURATION_HELP, TIME_HELP, TimeSpecError, time_range

FORMATS = ("hdf5", "csv", "parquet")
CLOCKS = ("device", "rx")

# The options of a range of channels, shared with ``sdctl tag add``.
StartOption = Annotated[
    str, typer.Option("--start", help=f"Start of the range: {TIME_HELP}.", show_default=False)
]
ChannelsOption = Annotated[
    str,
    typer.Option("--channels", "-c", help="Channel names, comma-separated.", show_default=False),
]
DurationOption = Annotated[
    str | None,
    typer.Option(
        "--duration", "-d", help=f"Length of the range: {DURATION_HELP}.", show_default=False
    ),
]
EndOption = Annotated[
    str | None,
    typer.Option("--end", help="End of the range (excluded), as --start.", show_default=False),
]
SignalsOption = Annotated[
    str | None,
    typer.Option(
        "--signals",
        "-s",
        help="Only these signals: channel.signal, comma-separated.",
        show_default=False,
    ),
]
PivotUrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="SPEEDDATA_PIVOT_URL",
        help="The pivot's URL (default: pivot.bind and pivot.port of the settings).",
        show_default=False,
    ),
]


def export(
    start: StartOption,
    channels: ChannelsOption,
    duration: DurationOption = None,
    end: EndOption = None,
    signals: SignalsOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="hdf5, csv or parquet (several channels' CSV or Parquet: a zip)."
        ),
    ] = "hdf5",
    clock: Annotated[
        str,
        typer.Option(
            "--time", help="Select the range on the device clock (device) or on rx_time (rx)."
        ),
    ] = "device",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default: the name the pivot suggests, here); - for stdout.",
            show_default=False,
        ),
    ] = None,
    url: PivotUrlOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export a time range of channels to HDF5, CSV or Parquet.

    Ask for exactly one of --duration or --end. Times are ISO 8601 (with Z, an offset or none
    for UTC), now, or now-30s / now-5m / now-PT1H; durations PT30S, PT1H30M, P1D or 30s, 5m.
    Example: sdctl export --start now-5m --duration 5m --channels example -o last5.h5"""
    _check(start, end, duration, fmt, clock)
    root = url or pivot_url(settings_from(config, data_dir))
    params = export_params(
        start, channels, end=end, duration=duration, signals=signals, format=fmt, time=clock
    )
    to_stdout = output is not None and str(output) == "-"
    try:
        if to_stdout:
            _to_stdout(root, params)
            return
        with _bar(quiet) as progress:
            saved = download(root, params, output, progress=progress)
    except Unreachable as e:
        raise CliError(f"{e} (is the pivot running? sdctl up starts it)") from None
    except ClientError as e:
        raise CliError(f"pivot: {e}") from None
    except OSError as e:
        raise CliError(f"cannot write {output or 'the export'}: {e.strerror or e}") from None
    counts = ", ".join(f"{n} {c}" for c, n in saved.channel_records.items())
    print(f"{saved.path}: {saved.records} records ({counts})", file=sys.stderr)


def _check(start: str, end: str | None, duration: str | None, fmt: str, clock: str) -> None:
    """The errors sdctl can tell without asking the pivot, as one line."""
    if fmt not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if clock not in CLOCKS:
        raise CliError(f"--time must be one of {', '.join(CLOCKS)}, not {clock!r}")
    if (end is None) == (duration is None):
        raise CliError("give exactly one of --duration or --end")
    try:
        time_range(start, end, duration)
    except TimeSpecError as e:
        raise CliError(str(e)) from None


class _bar:
    """A rich progress bar of the bytes received (total when the pivot said it), on stderr;
    nothing with ``quiet`` or when stderr is not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.shown = not quiet and sys.stderr.isatty()
        self.progress = Progress(
            TextColumn("export"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("export", total=None)

    def __enter__(self) -> _bar | None:
        if not self.shown:
            return None
        self.progress.start()
        return self

    def __call__(self, received: int, total: int | None) -> None:
        self.progress.update(self.task, completed=received, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            self.progress.stop()


def _to_stdout(root: str, params: dict[str, str]) -> None:
    stream_export(root, params, lambda response: copy_body(response, sys.stdout.buffer.write))
    sys.stdout.buffer.flush()
