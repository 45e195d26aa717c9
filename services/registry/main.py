"""Running the registry: ``run(settings)`` (``sdctl serve registry``) and
``python -m services.registry``. It prints ``event=ready service=registry pid=...
http=ADDR:PORT`` once it answers, with the port it bound."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence

import uvicorn

from services.registry.app import create_app
from speeddata._signals import die_with_parent, stop_on_signals
from speeddata.config import Settings, SettingsError, load_settings
from speeddata.logfmt import log, log_error


def run(settings: Settings) -> int:
    """Serves until SIGTERM/SIGINT; 0 after a clean stop, 1 when it cannot start (one
    ``event=error`` line says why)."""
    logging.basicConfig(level=logging.WARNING, format="service=registry %(levelname)s %(message)s")
    try:
        app = create_app(settings)
        sock = _bind(settings.registry.bind, settings.registry.port)
    except (SettingsError, OSError) as e:
        log_error("registry", e)
        return 1
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    with sock, stop_on_signals() as stop:
        started = asyncio.run(_serve(server, sock, stop))
    if not started:
        log_error("registry", "could not start (see the lines above)")
        return 1
    log(event="stopped", service="registry")
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio: TCP_NODELAY
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
    the process would not exit 0): SIGTERM and SIGINT set the stop flag of :func:`run`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server, sock: socket.socket, stop: threading.Event) -> bool:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        # Everything made while starting (modules, the app, the engine) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which
        # took tens of ms out of a request now and then (GET /channels' p99).
        gc.freeze()
        host, port = sock.getsockname()[:2]
        log(event="ready", service="registry", pid=os.getpid(), http=f"{host}:{port}")
    while not task.done():
        if stop.is_set():
            server.should_exit = True
        await asyncio.wait({task}, timeout=0.1)
    await task
    return server.started


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(
        prog="python -m services.registry", description="The SpeedData channel registry."
    )
    parser.add_argument("--config", help="settings file (default: SPEEDDATA_CONFIG)")
    parser.add_argument("--bind", help="address to listen on (registry.bind)")
    parser.add_argument("--port", type=int, help="TCP port, 0 for any (registry.port)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
        given = {"bind": args.bind, "port": args.port}
        settings = settings.override(registry={k: v for k, v in given.items() if v is not None})
    except SettingsError as e:
        log_error("registry", e)
        return 1
    return run(settings)
