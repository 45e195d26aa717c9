"""Serving an HTTP service's ASGI app the way every SpeedData service does: one listening
socket bound before the app starts (port 0 picks a free one), uvicorn without its own signal
handling (SIGTERM and SIGINT set a stop flag, so the process exits 0), the readiness line
``event=ready service=<name> pid=... http=ADDR:PORT`` once it answers, and one ``event=error``
line when it cannot start."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import uvicorn

from speeddata._service import StartError
from speeddata._signals import die_with_parent, stop_on_signals
from speeddata.config import Settings, SettingsError, load_settings
from speeddata.logfmt import log, log_error


def serve_http(service: str, make_app: Callable[[], Any], host: str, port: int) -> int:
    """Serves the app ``make_app()`` on ``host:port`` until SIGTERM/SIGINT; 0 after a clean
    stop, 1 when it cannot start (one ``event=error`` line says why)."""
    line = f"service={service} %(levelname)s %(message)s"
    logging.basicConfig(level=logging.WARNING, format=line)
    try:
        app = make_app()
        sock = bind_tcp(host, port)
    except (SettingsError, StartError, OSError) as e:
        log_error(service, e)
        return 1
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    with sock, stop_on_signals() as stop:
        started = asyncio.run(_serve(service, server, sock, stop))
    if not started:
        log_error(service, "could not start (see the lines above)")
        return 1
    log(event="stopped", service=service)
    return 0


def service_main(
    service: str, description: str, run: Callable[[Settings], int], argv: Sequence[str] | None
) -> int:
    """``python -m services.<service>``: its settings (``--config``, and ``--bind``/``--port``
    over the section ``<service>``), then ``run(settings)``."""
    die_with_parent()
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}", description=description)
    parser.add_argument("--config", help="settings file (default: SPEEDDATA_CONFIG)")
    parser.add_argument("--bind", help=f"address to listen on ({service}.bind)")
    parser.add_argument("--port", type=int, help=f"TCP port, 0 for any ({service}.port)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
        given = {"bind": args.bind, "port": args.port}
        settings = settings.override(
            None, **{service: {k: v for k, v in given.items() if v is not None}}
        )
    except SettingsError as e:
        log_error(service, e)
        return 1
    return run(settings)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (made as IPPROTO_TCP, so asyncio sets TCP_NODELAY
    on every accepted connection); an OSError says where it could not listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as e:
        sock.close()
        why = getattr(e, "strerror", None) or str(e)
        raise OSError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (it re-raises SIGTERM after shutting down, so
    the process would not exit 0): SIGTERM and SIGINT set the stop flag of :func:`serve_http`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(
    service: str, server: uvicorn.Server, sock: socket.socket, stop: threading.Event
) -> bool:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        # Everything made while starting (modules, the app, an engine) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which
        # took tens of ms out of a request now and then (the registry's GET /channels p99).
        gc.freeze()
        host, port = sock.getsockname()[:2]
        log(event="ready", service=service, pid=os.getpid(), http=f"{host}:{port}")
    while not task.done():
        if stop.is_set():
            server.should_exit = True
        await asyncio.wait({task}, timeout=0.1)
    await task
    return server.started
