"""What every command shares: the settings options and the one-line domain error."""

from __future__ import annotations

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
