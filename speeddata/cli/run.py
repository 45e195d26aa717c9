"""``sdctl up`` (every service in the foreground) and ``sdctl serve SERVICE`` (one)."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Annotated

import typer

from speeddata._process import ChildProcess
from speeddata._service import StartError
from speeddata._signals import parent_env, stop_on_signals
from speeddata.catalog import ChannelError, configured_channels, registry_records
from speeddata.channels import Channel, multicast_endpoints
from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from
from speeddata.client import ClientError, pivot_url, registry_url
from speeddata.config import Settings
from speeddata.demo import GENERATORS
from speeddata.logfmt import LineForwarder, format_line, is_error_line

SERVICES = {
    "bus": "services.bus",
    "registry": "services.registry",
    "ingest": "services.ingest",
    "janitor": "services.janitor",
    "pivot": "services.pivot",
    "stripchart": "services.stripchart",
}
"""Services by name, in start order: each module has ``run(settings)`` and ``__main__``."""

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 8.0


def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="janitor only: print what one pass would delete, and exit."),
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run one service in the foreground until Ctrl-C or SIGTERM."""
    if service not in SERVICES:
        raise CliError(f"unknown service {service!r} (services: {', '.join(SERVICES)})")
    if dry_run and service != "janitor":
        raise CliError("--dry-run is for the janitor only")
    settings = settings_from(config, data_dir)
    extra = {"dry": True} if dry_run else {}
    try:
        code = importlib.import_module(SERVICES[service]).run(settings, **extra)
    except StartError as e:
        raise CliError(f"{service}: {e}", e.code) from None
    raise typer.Exit(code or 0)


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Also feed the demo channels (example, temperature).")
    ] = False,
    rate: Annotated[
        float, typer.Option(min=0.1, help="Records per second and demo channel, with --demo.")
    ] = 10.0,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run SpeedData in the foreground; Ctrl-C stops everything.

    Starts the bus, the registry (REST API and page), the ingest supervisor (one relay per
    registered channel), the janitor (the archive's retention), the pivot (exports) and, with
    --demo, senders of the demo signals; then says what runs where, with a one-time login link
    to the registry's page."""
    settings = settings_from(config, data_dir)
    try:
        channels = configured_channels(settings)
    except ChannelError as e:
        raise CliError(str(e)) from None
    if demo:
        _check_demo_channels(channels)
    commands = {name: [sys.executable, "-m", module] for name, module in SERVICES.items()}
    if demo:
        commands["demo"] = [sys.executable, "-m", "speeddata", "send", "demo", "--rate", str(rate)]
    logs = _StartingLogs()
    children: list[ChildProcess] = []
    failed = None
    with stop_on_signals() as stop:
        try:
            env = parent_env(_child_env(settings))
            for name, argv in commands.items():
                children.append(_start(name, argv, env, logs))
                if not _wait_ready(children[-1], stop, logs):
                    break  # Ctrl-C or SIGTERM during start-up
                if name in (
                    "registry",
                    "pivot",
                    "stripchart",
                ):  # the port it bound (its port may be 0)
                    settings = _bound(name, settings, children[-1], env)
            else:
                print(_summary(settings, channels, children, demo, rate), flush=True)
                logs.emit(
                    format_line(
                        event="ready",
                        service="sdctl",
                        pid=os.getpid(),
                        xsub=settings.bus.xsub,
                        xpub=settings.bus.xpub,
                        registry=registry_url(settings),
                        pivot=pivot_url(settings),
                        channels=len(channels),
                    )
                )
                failed = _watch(children, stop)
        finally:
            for child in reversed(children):
                child.stop(STOP_TIMEOUT_S)
            logs.close()
    if failed is not None:
        raise CliError(
            f"{failed.name} exited with status {failed.popen.returncode}; stopped everything"
        )


class _StartingLogs(LineForwarder):
    """The children's lines, each prefixed with its name; a starting child's lines are held
    until it is ready. A child that cannot start is then told by sdctl's one error line, not
    also by its own error line; its other lines are shown."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._held: dict[str, list[str]] = {}

    def hold(self, name: str) -> None:
        with self._lock:
            self._held.setdefault(name, [])

    def release(self, name: str, errors: bool = True) -> None:
        """Forwards the held lines of ``name`` (without its error lines unless ``errors``)
        and from now on each line as it comes."""
        with self._lock:
            for line in self._held.pop(name, []):
                if errors or not is_error_line(line.partition("| ")[2]):
                    super().emit(line)

    def emit(self, line: str) -> None:
        with self._lock:
            held = self._held.get(line.partition("| ")[0].strip())
            if held is None:
                super().emit(line)
            else:
                held.append(line)


def _start(name: str, argv: list[str], env: Mapping[str, str], logs: _StartingLogs) -> ChildProcess:
    """Starts one child in a session of its own: a terminal's Ctrl-C reaches only sdctl up,
    which stops the children in reverse order. Its lines are held until it is ready."""
    logs.hold(name)
    try:
        return ChildProcess(name, argv, logs, f"{name:<8}| ", env, new_session=True)
    except OSError as e:
        raise CliError(f"cannot start {name}: {e.strerror}") from None


def _wait_ready(child: ChildProcess, stop: threading.Event, logs: _StartingLogs) -> bool:
    """True once the child is ready; False when ``stop`` was set first; a child that exits or
    is too slow is a CliError with its error text (its own error lines are not repeated)."""
    if child.wait_ready(READY_TIMEOUT_S, stop) is not None:
        logs.release(child.name)
        return True
    if stop.is_set():
        logs.release(child.name)
        return False
    why = "exited" if child.poll() is not None else f"was not ready after {READY_TIMEOUT_S:g} s"
    error = child.error()
    logs.release(child.name, errors=False)
    raise CliError(f"{child.name} {why}: {error}")


def _watch(children: list[ChildProcess], stop: threading.Event) -> ChildProcess | None:
    """Waits for Ctrl-C/SIGTERM (None) or a child that exits by itself (returned)."""
    while not stop.wait(0.2):
        for child in children:
            if child.popen.poll() is not None:
                return child
    return None


def _bound(
    service: str, settings: Settings, child: ChildProcess, env: MutableMapping[str, str]
) -> Settings:
    """The settings with the port the service bound; later children are told it too."""
    port = (child.ready or {}).get("http", "").rpartition(":")[2]
    if not port.isdigit():
        return settings
    env[f"SPEEDDATA__{service.upper()}__PORT"] = port
    return settings.override(None, **{service: {"port": int(port)}})


def _registry_lines(settings: Settings, pid: int) -> list[str]:
    """Where the registry answers, and a one-time login link to its page."""
    from services.registry.auth import login_link

    url = registry_url(settings)
    lines = [f"  registry pid {pid}: page {url}/, REST API {url}/api/v1"]
    try:
        link = login_link(settings)
    except OSError as e:
        return [*lines, f"    (no login link: cannot read the token: {e})"]
    return [*lines, f"    log in to the page once with this link: {link}"]


def _check_demo_channels(channels: list[Channel]) -> None:
    names = {c.name for c in channels}
    missing = [n for n in GENERATORS if n not in names]
    if missing:
        raise CliError(f"--demo needs the channel(s) {', '.join(missing)} in the configuration")


def _child_env(settings: Settings) -> dict[str, str]:
    """The environment of the children: ours, with the chosen config file and data dir."""
    env = dict(os.environ)
    env["SPEEDDATA_CONFIG"] = str(settings.config_file)
    env["SPEEDDATA_DATA_DIR"] = str(settings.data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _summary(
    settings: Settings,
    channels: list[Channel],
    children: list[ChildProcess],
    demo: bool,
    rate: float,
) -> str:
    pids = {c.name: c.pid for c in children}
    bind = settings.relay.bind
    lines = [
        "SpeedData is running. Ctrl-C stops everything.",
        f"  bus      pid {pids['bus']}: publishers connect to {settings.bus.xsub},"
        f" subscribers to {settings.bus.xpub}",
        *_registry_lines(settings, pids["registry"]),
        f"  ingest   pid {pids['ingest']}: one relay per channel, archive in "
        f"{settings.data_dir / 'archive'}",
        f"  janitor  pid {pids['janitor']}: retention of the archive (settings janitor.*)",
        f"  pivot    pid {pids['pivot']}: exports at {pivot_url(settings)}/api/v1/pivot/export",
    ]
    s = settings.stripchart
    lines.append(
        f"  stripchart pid {pids['stripchart']}: dashboard http://{s.bind}:{s.port}/,"
        f" WebSocket ws://{s.bind}:{s.port}/ws"
    )
    ports = _registered(settings, channels)
    for name, port in ports:
        full, dec = multicast_endpoints(port, settings)
        lines.append(f"    {name:<12} udp {bind}:{port}   multicast full {full}, decimated {dec}")
    if demo:
        lines.append(
            f"  demo     pid {pids['demo']}: {', '.join(GENERATORS)} at {rate:g} records/s"
        )
    sdctl = _sdctl_command()
    first = ports[0][0] if ports else "CHANNEL"
    lines += [
        "In another terminal, try:",
        f"  {sdctl} status                 # rate, drops, rejects, files of every channel",
        f"  {sdctl} channel list           # the registered channels",
        f"  {sdctl} tail {first:<17} # live records",
        f"  {sdctl} events --topic relay     # bus events as JSON lines",
        f"  {sdctl} export --start now-1m --duration 1m --channels {first}   # to HDF5",
    ]
    return "\n".join(lines)


def _registered(settings: Settings, channels: list[Channel]) -> list[tuple[str, int]]:
    """(name, port) of the registry's channels, else of the baseline ones."""
    try:
        return [(r["name"], int(r["port"])) for r in registry_records(settings)]
    except ClientError:
        return [(c.name, c.port) for c in channels]


def _sdctl_command() -> str:
    """How to type sdctl here: the venv's script when it is not on PATH."""
    script = Path(sys.executable).parent / "sdctl"
    on_path = any(Path(d, "sdctl") == script for d in os.environ.get("PATH", "").split(":") if d)
    if on_path or not script.exists():
        return "sdctl"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
