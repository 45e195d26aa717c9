"""sdctl: run and drive SpeedData."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="SpeedData: capture telemetry from UDP/Avro devices, archive it, watch it live.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """SpeedData: capture telemetry from UDP/Avro devices, archive it, watch it live."""


def main() -> None:
    app()
