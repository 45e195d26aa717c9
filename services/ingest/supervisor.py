"""The ingest supervisor: one relay per channel, kept running, reported on the bus."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from services.ingest._argv import relay_argv, write_schema
from services.ingest._lock import LockHeld, SupervisorLock
from services.ingest._relay import Backoff, SupervisedRelay
from speeddata._service import StartError
from speeddata._signals import stop_on_signals
from speeddata.bus import Publisher
from speeddata.catalog import ChannelError, configured_channels
from speeddata.channels import Channel
from speeddata.config import Settings
from speeddata.logfmt import LineForwarder, format_line

Publish = Callable[[str, dict[str, Any]], object]
"""Publishes ``(topic, fields)`` on the bus (what it returns is ignored)."""

READY_WAIT_S = 15.0
"""How long the supervisor waits for its relays' first outcome before it says it is ready."""
STOP_WAIT_S = 5.0
"""How long relays get to exit after SIGTERM before they are killed."""
LOCK_NAME = "ingest.lock"
"""The supervisor lock in ``<data>/run/``: one supervisor per data dir."""
START_FAILED = 2
"""The exit status of a supervisor that cannot start."""
REPEAT_S = 1.0
"""Re-publication period of each channel's latest ``ingest.relay`` event (the bus cache beat)."""


class Supervisor:
    """Starts, watches and restarts one relay per channel; one :meth:`step` at a time."""

    def __init__(
        self, settings: Settings, channels: list[Channel], publish: Publish, logs: LineForwarder
    ) -> None:
        self._settings = settings
        self._publish = publish
        self._logs = logs
        self._latest: dict[str, dict[str, Any]] = {}
        self._next_repeat = 0.0
        ingest = settings.ingest
        self.relays = [
            SupervisedRelay(
                channel.name,
                relay_argv(channel, settings, write_schema(channel, settings.data_dir)),
                Backoff(ingest.backoff_initial_s, ingest.backoff_max_s, ingest.stable_after_s),
                logs,
                self._notifier(channel),
            )
            for channel in channels
        ]

    def start(self) -> None:
        for relay in self.relays:
            relay.launch()

    def step(self) -> None:
        """Polls every relay (readiness, exits, due restarts) and repeats the latest events."""
        for relay in self.relays:
            relay.poll()
        now = time.monotonic()
        if now >= self._next_repeat:
            self._next_repeat = now + REPEAT_S
            for fields in list(self._latest.values()):
                self._publish(f"ingest.relay.{fields['channel']}", {**fields, "repeat": True})

    def settled(self) -> bool:
        """True once no relay is still on its way to its readiness line."""
        return all(relay.state != "starting" for relay in self.relays)

    def stop(self) -> None:
        """SIGTERM to every relay, a bounded wait, then SIGKILL to the ones still alive."""
        for relay in self.relays:
            relay.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for relay in self.relays:
            relay.finish(deadline)

    def _notifier(self, channel: Channel) -> Callable[..., None]:
        def notify(action: str, **details: Any) -> None:
            relay = next(r for r in self.relays if r.channel == channel.name)
            now = time.time_ns()
            fields = {
                "channel": channel.name,
                "port": channel.port,
                "action": action,
                "repeat": False,
                "changed": now,
                "pid": None,
                "exit_code": None,
                "signal": None,
                "detail": "",
                "restarts": relay.restarts,
                "delay_s": 0.0,
                "runtime_s": 0.0,
                **details,
            }
            shown = {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in details.items()
                if v is not None and v != ""
            }
            self._logs.emit(
                format_line(
                    event=f"relay_{action}",
                    service="ingest",
                    channel=channel.name,
                    restarts=relay.restarts,
                    **shown,
                )
            )
            self._publish(f"ingest.relay.{channel.name}", fields)
            if action == "stopped":
                self._latest.pop(channel.name, None)
            else:
                self._latest[channel.name] = fields

        return notify


def run(settings: Settings, publish: Publish | None = None) -> int:
    """Runs the supervisor until SIGTERM or SIGINT; returns 0 after a clean stop. Raises
    :class:`StartError` (exit status 2) when it cannot start."""
    logs = LineForwarder()
    try:
        return _run(settings, publish, logs)
    finally:
        logs.close()


def _run(settings: Settings, publish: Publish | None, logs: LineForwarder) -> int:
    try:
        binary = settings.path(settings.relay.binary)
        if not os.access(binary, os.X_OK):  # first: it also judges the channels' schemas
            raise ChannelError(f"relay binary {binary} is missing: run `make relay`")
        channels = configured_channels(settings)
        lock = SupervisorLock(settings.data_dir / "run" / LOCK_NAME)
    except (ChannelError, LockHeld) as e:
        raise StartError(str(e), START_FAILED) from None
    except OSError as e:
        raise StartError(f"data dir: {e}", START_FAILED) from None
    with lock, stop_on_signals() as quit_flag, _bus_publisher(settings, publish) as send:
        try:
            supervisor = Supervisor(settings, channels, send, logs)
        except OSError as e:
            raise StartError(f"data dir: {e}", START_FAILED) from None
        _supervise(supervisor, quit_flag, logs, len(channels))
    logs.emit(format_line(event="stopped", service="ingest", pid=os.getpid()))
    return 0


def _supervise(
    supervisor: Supervisor, quit_flag: threading.Event, logs: LineForwarder, count: int
) -> None:
    supervisor.start()
    ready_by = time.monotonic() + READY_WAIT_S
    announced = False
    try:
        while not quit_flag.is_set():
            supervisor.step()
            if not announced and (supervisor.settled() or time.monotonic() > ready_by):
                logs.emit(
                    format_line(event="ready", service="ingest", pid=os.getpid(), channels=count)
                )
                announced = True
            quit_flag.wait(0.05)
    finally:
        supervisor.stop()


@contextmanager
def _bus_publisher(settings: Settings, publish: Publish | None) -> Iterator[Publish]:
    """The given ``publish`` (tests), else a bus publisher for the run's duration."""
    if publish is not None:
        yield publish
        return
    publisher = Publisher("ingest", "supervisor", settings)
    try:
        yield publisher.publish
    finally:
        publisher.close()
