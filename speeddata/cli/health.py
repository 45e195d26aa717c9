"""``sdctl health SERVICE``: is one service ready? (:mod:`speeddata.health` checks.)"""

from __future__ import annotations

from typing import Annotated

import typer

from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from
from speeddata.health import checks, problem


def health(
    service: Annotated[
        str, typer.Argument(help="bus, registry, ingest, janitor, pivot or stripchart.")
    ],
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for an answer.")] = 5.0,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check that one service is ready: exit 0 with one line, or 1 saying why."""
    if service not in checks():
        raise CliError(f"unknown service {service!r} (services: {', '.join(checks())})", 2)
    why = problem(service, settings_from(config, data_dir), timeout)
    if why:
        raise CliError(f"{service} is not ready: {why}")
    print(f"{service} ok")
