"""Running the bus proxy: ``run(settings)`` (``sdctl serve bus``) and ``python -m services.bus``."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Sequence
from contextlib import nullcontext

import zmq

from services.bus.proxy import BindError, Proxy
from speeddata._service import StartError
from speeddata._signals import die_with_parent, stop_on_signals
from speeddata.config import Settings, SettingsError, load_settings
from speeddata.logfmt import log, log_error


def run(settings: Settings, stop: threading.Event | None = None) -> int:
    """Serves the bus until SIGTERM/SIGINT (or ``stop`` is set, when given); returns 0 after a
    clean stop. Raises :class:`StartError` when it cannot start."""
    signals = stop_on_signals() if stop is None else nullcontext(stop)
    context = zmq.Context()
    try:
        with signals as stop_event:
            try:
                proxy = Proxy(settings, context)
            except (BindError, SettingsError, ValueError) as e:
                raise StartError(str(e)) from None
            log(
                event="ready",
                service="bus",
                pid=os.getpid(),
                xsub=proxy.xsub_endpoint,
                xpub=proxy.xpub_endpoint,
            )
            proxy.serve(stop_event.is_set)
        c = proxy.counters
        log(event="stopped", service="bus", messages_in=c.messages_in, messages_out=c.messages_out)
        return 0
    finally:
        context.destroy()


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(
        prog="python -m services.bus", description="The SpeedData bus proxy (XSUB/XPUB)."
    )
    parser.add_argument("--config", help="settings file (default: SPEEDDATA_CONFIG)")
    parser.add_argument("--xsub", help="endpoint publishers connect to (bus.xsub)")
    parser.add_argument("--xpub", help="endpoint subscribers connect to (bus.xpub)")
    parser.add_argument("--cache-beats", type=int, help="missed beats that expire a cache entry")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
        overrides = {"xsub": args.xsub, "xpub": args.xpub, "cache_beats": args.cache_beats}
        settings = settings.override(bus={k: v for k, v in overrides.items() if v is not None})
        return run(settings)
    except (SettingsError, StartError) as e:
        log_error("bus", e)
        return 1
