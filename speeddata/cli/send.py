"""``sdctl send ...``: feed channels like a device would."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

from speeddata._signals import stop_on_signals
from speeddata.catalog import ChannelError, find_channel
from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from
from speeddata.config import Settings
from speeddata.demo import GENERATORS, DemoFeed, demo_records, send_demo
from speeddata.logfmt import log
from speeddata.sender import DEFAULT_MAX_DATAGRAM, MAX_UDP_PAYLOAD, Sender

app = typer.Typer(help="Send records to channels, as a device does.", no_args_is_help=True)


class DemoChannel(StrEnum):
    example = "example"
    temperature = "temperature"
    all = "all"


class Encoding(StrEnum):
    bare = "bare"
    single_object = "single-object"


@app.command("demo")
def demo(
    channel: Annotated[
        DemoChannel, typer.Option(help="Demo channel to feed, or all of them.")
    ] = DemoChannel.all,
    rate: Annotated[
        float,
        typer.Option(min=0, help="Records per second and channel (0: as fast as possible)."),
    ] = 1.0,
    count: Annotated[
        int, typer.Option(min=0, help="Stop after this many records per channel (0: never).")
    ] = 0,
    encoding: Annotated[
        Encoding, typer.Option(help="Record encoding on the wire.")
    ] = Encoding.bare,
    batch: Annotated[
        int,
        typer.Option(min=1, help="Records per datagram (as many as fit in --max-datagram)."),
    ] = 1,
    max_datagram: Annotated[
        int, typer.Option(min=64, max=MAX_UDP_PAYLOAD, help="Largest datagram to send (bytes).")
    ] = DEFAULT_MAX_DATAGRAM,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address the relays receive on (default: the relay.bind setting; 127.0.0.1 "
            "when that is 0.0.0.0 or ::).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Send the original demo signals (sine, ramp, square, noise, ...; a drifting temperature
    sensor) to the demo channels of the configuration, at --rate records per second."""
    settings = settings_from(config, data_dir)
    host = host or relay_address(settings)
    names = list(GENERATORS) if channel is DemoChannel.all else [channel.value]
    feeds = []
    for name in names:
        try:
            target = find_channel(settings, name)
        except ChannelError as e:
            raise CliError(str(e)) from None
        try:
            sender = Sender(
                target.schema, host, target.port, encoding=encoding.value, max_datagram=max_datagram
            )
        except OSError as e:
            raise CliError(f"cannot send to {host}: {e.strerror or e}") from None
        feeds.append(DemoFeed(name, demo_records(name), sender))
    log(event="ready", service="sender", pid=os.getpid(), channels=",".join(names), rate=rate)
    try:
        with stop_on_signals() as stop:
            sent = send_demo(feeds, rate=rate, count=count, batch=batch, stop=stop)
    except OSError as e:
        raise CliError(f"cannot send to {host}: {e.strerror}") from None
    finally:
        for feed in feeds:
            feed.sink.close()
    log(event="stopped", service="sender", records=sent)


def relay_address(settings: Settings) -> str:
    """Where this host reaches its relays: ``relay.bind``, or loopback when they bind every
    address."""
    bind = settings.relay.bind
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind, bind)
