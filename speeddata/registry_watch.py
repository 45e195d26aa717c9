"""What the registry says the channels are, heard by a background thread: ``GET /channels``
at start, every ``poll_s`` seconds (ingest: ``ingest.registry_poll_s``) and at once after a
``registry.channel.<name>`` event or a ``registry.snapshot`` that differs from the last answer.
Ingest and the stripchart gateway follow the registry with it. The bus is lossy, so the events
only make convergence faster; the periodic read makes it certain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from speeddata.bus import Event, Subscriber
from speeddata.client import Client, ClientError
from speeddata.config import Settings

KEPT = (
    "name",
    "port",
    "schema",
    "schema_version",
    "fingerprint",
    "time_field",
    "time_unit",
    "config",
)
"""The fields of a channel record that decide its relay (status and counters do not)."""
READ_TIMEOUT_S = 5.0
RECV_S = 0.2


class RegistryWatch:
    """The thread and its latest answer; :meth:`take` hands each new answer over once."""

    def __init__(
        self,
        settings: Settings,
        say: Callable[..., None] = lambda event, **fields: None,
        context: zmq.Context | None = None,
        *,
        poll_s: float | None = None,
        kept: tuple[str, ...] = KEPT,
        name: str = "ingest-registry",
    ) -> None:
        self.settings = settings
        self.say = say
        """Called as ``say(event, **fields)`` when the registry goes away or comes back."""
        self.poll_s = float(settings.ingest.registry_poll_s if poll_s is None else poll_s)
        self.kept = kept
        """The fields of each channel record handed over (a change of another is no news)."""
        self.first_try = threading.Event()
        """Set once the first read is over (answered or not)."""
        self.reads = 0
        self.failures = 0
        self.last_error = ""
        self._context = context
        self._lock = threading.Lock()
        self._latest: list[dict[str, Any]] | None = None
        self._fresh = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(READ_TIMEOUT_S + 1)

    def take(self) -> list[dict[str, Any]] | None:
        """The registry's channel records when they came (or changed) since the last take."""
        with self._lock:
            if not self._fresh:
                return None
            self._fresh = False
            return self._latest

    def _run(self) -> None:
        client = Client(settings=self.settings, timeout=READ_TIMEOUT_S)
        try:
            with Subscriber(["registry"], self.settings, context=self._context) as sub:
                self._loop(client, sub)
        finally:
            client.close()

    def _loop(self, client: Client, sub: Subscriber) -> None:
        next_read = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_read:
                self._read(client)
                self.first_try.set()
                next_read = time.monotonic() + self.poll_s
            event = sub.recv(timeout=RECV_S)
            if event is not None and self._news(event):
                next_read = 0.0

    def _read(self, client: Client) -> None:
        try:
            records = [{k: r.get(k) for k in self.kept} for r in client.channels()]
        except (ClientError, KeyError, TypeError, ValueError) as e:
            if self.reads and not self.last_error:
                self.say("registry_away", error=str(e))
            self.failures += 1
            self.last_error = str(e)
            return
        if self.last_error:
            self.say("registry_back", channels=len(records))
        self.last_error = ""
        self.reads += 1
        with self._lock:
            if records != self._latest:
                self._latest = records
                self._fresh = True

    def _news(self, event: Event) -> bool:
        """True when ``event`` says the registry changed since the last answer."""
        if event.topic.startswith("registry.channel."):
            return True
        if event.topic != "registry.snapshot":
            return False
        with self._lock:
            latest = self._latest
        if latest is None:
            return True  # the registry is back (or was never read): read it now
        keys = ("name", "port", "fingerprint", *(("status",) if "status" in self.kept else ()))
        heard = {tuple(c[k] for k in keys) for c in event.fields["channels"]}
        return heard != {tuple(r.get(k) for k in keys) for r in latest}
