"""sdctl: run and drive SpeedData."""

from __future__ import annotations

import sys

import typer
import zmq

from speeddata._signals import die_with_parent
from speeddata.cli import channel, export, health, run, send, tag, watch
from speeddata.cli._common import CliError, reader_left

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
app.add_typer(channel.app, name="channel")
app.add_typer(send.app, name="send")
app.add_typer(tag.app, name="tag")
app.command()(watch.events)
app.command()(watch.tail)
app.command()(watch.status)
app.command()(export.export)
app.command()(health.health)


def main(argv: list[str] | None = None) -> None:
    """Runs sdctl; a domain, usage, configuration or system error is one line on stderr and a
    non-zero exit, never a traceback. A reader that goes away (``sdctl events | head -1``)
    ends sdctl quietly with status 0."""
    die_with_parent()  # when sdctl up started this one (the demo sender)
    try:
        code = app(args=argv, prog_name="sdctl", standalone_mode=False)
    except CliError as e:
        _fail(str(e), e.code)
    except _click.ClickException as e:
        if isinstance(e, _click.NoArgsIsHelpError) and e.ctx is not None:
            print(e.ctx.get_help(), file=sys.stderr)
            sys.exit(2)
        _fail(e.format_message(), e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        reader_left()
    except (OSError, ValueError, zmq.ZMQError) as e:
        _fail(_describe(e), 1)
    sys.exit(code if isinstance(code, int) else 0)


def _describe(e: BaseException) -> str:
    """An exception as words: an OSError's text and file name, not its errno tuple."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e) or type(e).__name__


def _fail(message: str, code: int) -> None:
    first = " ".join(message.split())
    print(f"sdctl: error: {first}", file=sys.stderr)
    sys.exit(code)
