"""sdctl: run and drive SpeedData."""

from __future__ import annotations

import os
import sys

import typer
import zmq

from speeddata.cli import run, send, watch
from speeddata.cli._common import CliError
from speeddata.config import SettingsError

_click = sys.modules[typer.BadParameter.__module__]
"""click's exceptions module (typer may carry its own copy of click)."""

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """SpeedData: capture telemetry from UDP/Avro devices, archive every record, watch it live.

    Start everything with `sdctl up --demo`, then watch it with `sdctl status`,
    `sdctl tail example` and `sdctl events`. Settings come from config/speeddata.yaml,
    SPEEDDATA_CONFIG, SPEEDDATA_DATA_DIR and SPEEDDATA__<SECTION>__<KEY> variables."""


app.command()(run.up)
app.command()(run.serve)
app.add_typer(send.app, name="send")
app.command()(watch.events)
app.command()(watch.tail)
app.command()(watch.status)


def main(argv: list[str] | None = None) -> None:
    """Runs sdctl; a domain or usage error is one line on stderr and a non-zero exit."""
    try:
        code = app(args=argv, prog_name="sdctl", standalone_mode=False)
    except CliError as e:
        _fail(str(e), e.code)
    except (SettingsError, zmq.ZMQError) as e:
        _fail(str(e), 1)
    except _click.ClickException as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            print(e.ctx.get_help(), file=sys.stderr)
            sys.exit(2)
        _fail(e.format_message(), e.exit_code)
    except (_click.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the reader left
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    first = " ".join(message.split())
    print(f"sdctl: error: {first}", file=sys.stderr)
    sys.exit(code)
