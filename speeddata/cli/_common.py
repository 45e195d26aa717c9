"""What every command shares: the settings options, the one-line domain error, and output
that ends quietly when its reader goes away."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from speeddata.config import Settings, SettingsError, load_settings


class CliError(Exception):
    """A domain error: printed as one line on stderr, exit status :attr:`code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="SPEEDDATA_CONFIG",
        help="Settings file over the defaults (config/speeddata.yaml).",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="SPEEDDATA_DATA_DIR",
        help="Data dir (archive, schemas, quarantine); default var/ of the installation.",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0,
        help="Stop after this many seconds (0: run until Ctrl-C).",
    ),
]
CountOption = Annotated[
    int,
    typer.Option("--count", "-n", min=0, help="Stop after this many lines (0: no limit)."),
]


def settings_from(config: Path | None, data_dir: Path | None) -> Settings:
    """The settings of a command's ``--config`` and ``--data-dir``; a bad file is a CliError."""
    try:
        return load_settings(config_file=config, data_dir=data_dir)
    except SettingsError as e:
        raise CliError(str(e)) from None


def write_out(text: str) -> None:
    """Writes ``text`` to stdout and flushes it; a reader that went away (``| head -1``)
    ends the command quietly with status 0."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        reader_left()


def reader_left() -> None:
    """Ends the command with status 0 after its stdout reader left: stdout is pointed at
    /dev/null first, so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise typer.Exit(0)
