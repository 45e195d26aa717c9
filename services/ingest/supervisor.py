"""The ingest supervisor: one relay per registry channel, kept running, reported on the bus;
reconciled with the registry (:mod:`speeddata.registry_watch`) as channels come and go."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from services.ingest._lock import LockHeld, SupervisorLock
from services.ingest._relay import Backoff, SupervisedRelay
from services.ingest._wanted import Planner, Wanted, baseline_records, read_cache, write_cache
from speeddata._service import StartError
from speeddata._signals import stop_on_signals
from speeddata.bus import Publisher
from speeddata.config import Settings
from speeddata.logfmt import LineForwarder, format_line
from speeddata.registry_watch import RegistryWatch

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
FIRST_READ_WAIT_S = 6.0
"""How long a starting supervisor waits for the registry's first answer."""
REPEAT_S = 1.0
"""Re-publication period of each channel's latest ``ingest.relay`` event (the bus cache beat)."""


class Supervisor:
    """Runs one relay per wanted channel: :meth:`apply` takes the channels to run (from the
    registry), :meth:`step` watches the relays. A removed channel's relay is retired (its
    archive stays), a changed one's retired and started anew with its new command line once the
    old one has exited (its port and channel lock are free then)."""

    def __init__(self, settings: Settings, publish: Publish, logs: LineForwarder) -> None:
        self.settings = settings
        self._publish = publish
        self._logs = logs
        self._latest: dict[str, dict[str, Any]] = {}
        self._next_repeat = 0.0
        self.relays: dict[str, SupervisedRelay] = {}
        self.retiring: list[tuple[SupervisedRelay, int]] = []
        self._ports: dict[str, int] = {}
        self._pending: dict[str, Wanted] = {}

    def apply(self, wanted: dict[str, Wanted]) -> None:
        """Makes the relays those of ``wanted``: starts new ones, retires removed and changed
        ones (the changed ones start again once their old relay exited)."""
        for name, relay in list(self.relays.items()):
            want = wanted.get(name)
            if want is None or tuple(relay.argv) != want.argv:
                why = "removed" if want is None else "changed"
                self._logs.emit(format_line(event="relay_retired", service="ingest",
                                            channel=name, reason=why))  # fmt: skip
                relay.retire(STOP_WAIT_S)
                self.retiring.append((relay, self._ports.pop(name)))
                del self.relays[name]
        self._pending = {n: w for n, w in wanted.items() if n not in self.relays}
        retiring = {r.channel for r, _ in self.retiring}
        for name in [n for n in self._latest if n not in wanted and n not in retiring]:
            del self._latest[name]  # a refused channel that is gone
        self._start_pending()

    def step(self) -> None:
        """Polls every relay (readiness, exits, due restarts, retirements), starts the relays
        whose predecessors are gone, and repeats the latest events."""
        for relay in list(self.relays.values()):
            relay.poll()
        for relay, _ in self.retiring:
            relay.poll()
        self.retiring = [(r, p) for r, p in self.retiring if r.state != "stopped"]
        self._start_pending()
        now = time.monotonic()
        if now >= self._next_repeat:
            self._next_repeat = now + REPEAT_S
            for fields in list(self._latest.values()):
                self._publish(f"ingest.relay.{fields['channel']}", {**fields, "repeat": True})

    def settled(self) -> bool:
        """True once no relay is still on its way to its readiness line."""
        return not self._pending and all(r.state != "starting" for r in self.relays.values())

    def stop(self) -> None:
        """SIGTERM to every relay, a bounded wait, then SIGKILL to the ones still alive."""
        everyone = [*self.relays.values(), *(r for r, _ in self.retiring)]
        for relay in everyone:
            relay.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for relay in everyone:
            relay.finish(deadline)

    def refuse(self, name: str, why: str) -> None:
        """Reports a channel ingest cannot run (``exited`` with the reason, no process)."""
        self._logs.emit(format_line(event="channel_refused", service="ingest", channel=name,
                                    error=why))  # fmt: skip
        if name in self.relays:
            return  # its former settings keep running
        self._event(name, 0, "exited", 0, {"detail": why})

    def _start_pending(self) -> None:
        busy = {r.channel for r, _ in self.retiring} | set(self.relays)
        ports = {p for _, p in self.retiring} | set(self._ports.values())
        for name, want in list(self._pending.items()):
            if name in busy or want.port in ports:
                continue  # its old relay (or the port's former holder) is still exiting
            self._launch(name, want)
            ports.add(want.port)
            del self._pending[name]

    def _launch(self, name: str, want: Wanted) -> None:
        ingest = self.settings.ingest
        made: list[SupervisedRelay] = []

        def notify(action: str, **details: Any) -> None:
            self._event(name, want.port, action, made[0].restarts, details)

        relay = SupervisedRelay(
            name,
            want.argv,
            Backoff(ingest.backoff_initial_s, ingest.backoff_max_s, ingest.stable_after_s),
            self._logs,
            notify,
        )
        made.append(relay)
        self.relays[name] = relay
        self._ports[name] = want.port
        relay.launch()

    def _event(self, channel: str, port: int, action: str, restarts: int, details: Any) -> None:
        fields = {
            "channel": channel,
            "port": port,
            "action": action,
            "repeat": False,
            "changed": time.time_ns(),
            "pid": None,
            "exit_code": None,
            "signal": None,
            "detail": "",
            "restarts": restarts,
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
            format_line(event=f"relay_{action}", service="ingest", channel=channel,
                        restarts=restarts, **shown)
        )  # fmt: skip
        self._publish(f"ingest.relay.{channel}", fields)
        if action == "stopped":
            self._latest.pop(channel, None)
        else:
            self._latest[channel] = fields


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
        if not os.access(binary, os.X_OK):
            raise StartError(f"relay binary {binary} is missing: run `make relay`", START_FAILED)
        lock = SupervisorLock(settings.data_dir / "run" / LOCK_NAME)
    except LockHeld as e:
        raise StartError(str(e), START_FAILED) from None
    except OSError as e:
        raise StartError(f"data dir: {e}", START_FAILED) from None
    with lock, stop_on_signals() as quit_flag, _bus_publisher(settings, publish) as send:
        supervisor = Supervisor(settings, send, logs)
        watch = RegistryWatch(
            settings, lambda event, **f: logs.emit(format_line(event=event, service="ingest", **f))
        )
        watch.start()
        try:
            _supervise(supervisor, watch, Planner(settings, supervisor.refuse), quit_flag, logs)
        finally:
            watch.stop()
    logs.emit(format_line(event="stopped", service="ingest", pid=os.getpid()))
    return 0


def _first_channels(
    settings: Settings, watch: RegistryWatch, quit_flag: threading.Event, logs: LineForwarder
) -> list[dict[str, Any]]:
    """The registry's channels; when it does not answer at once, the ones it gave last (kept
    in the data dir), else the settings' baseline."""
    deadline = time.monotonic() + FIRST_READ_WAIT_S
    while not watch.first_try.is_set() and not quit_flag.is_set():
        if time.monotonic() > deadline:
            break
        quit_flag.wait(0.02)
    records, source = watch.take(), "registry"
    if records is not None:
        _keep(settings, records, logs)
    else:
        records, source = read_cache(settings), "last registry answer"
        if records is None:
            records, source = baseline_records(settings), "baseline settings"
        logs.emit(format_line(event="registry_away", service="ingest", channels_from=source,
                              error=watch.last_error or "no answer yet"))  # fmt: skip
    return records


def _keep(settings: Settings, records: list[dict[str, Any]], logs: LineForwarder) -> None:
    try:
        write_cache(settings, records)
    except OSError as e:
        logs.emit(format_line(event="cache_error", service="ingest", error=str(e)))


def _supervise(
    supervisor: Supervisor,
    watch: RegistryWatch,
    planner: Planner,
    quit_flag: threading.Event,
    logs: LineForwarder,
) -> None:
    first = planner.plan(_first_channels(supervisor.settings, watch, quit_flag, logs))
    supervisor.apply(first)
    ready_by = time.monotonic() + READY_WAIT_S
    announced = False
    try:
        while not quit_flag.is_set():
            news = watch.take()
            if news is not None:
                _keep(supervisor.settings, news, logs)
                supervisor.apply(planner.plan(news))
            supervisor.step()
            if not announced and (supervisor.settled() or time.monotonic() > ready_by):
                logs.emit(format_line(event="ready", service="ingest", pid=os.getpid(),
                                      channels=len(first)))  # fmt: skip
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
