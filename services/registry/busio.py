"""The registry on the bus: a publisher thread (``registry.channel.<name>`` on every change,
``registry.snapshot`` on change and every ``registry.snapshot_s``) and a listener thread that
feeds :class:`~services.registry.live.Live` from ``relay.status`` and ``ingest.relay``."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import zmq

from services.registry.db import ChannelRow
from services.registry.live import Live
from services.registry.store import Change
from services.registry.views import summary
from speeddata.bus import Publisher, Subscriber
from speeddata.config import Settings

log = logging.getLogger("services.registry")
POLL_S = 0.2
LISTEN_POLL_S = 0.05
"""How often the listener looks at its stop flag (a stop should not wait long)."""


class BusLink:
    """Both threads; :meth:`changed` queues a change for publication (never blocks)."""

    def __init__(
        self,
        settings: Settings,
        live: Live,
        channels: Callable[[], list[ChannelRow]],
        context: zmq.Context,
    ) -> None:
        self.settings = settings
        self.live = live
        self.channels = channels
        self.context = context
        self.published = 0
        self._changes: queue.Queue[Change | None] = queue.Queue()  # None: wake up, stop
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._publish_loop, name="registry-pub", daemon=True),
            threading.Thread(target=self._listen_loop, name="registry-sub", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self._changes.put(None)
        for t in self._threads:
            t.join(5)

    def changed(self, change: Change) -> None:
        if change.action == "removed":
            self.live.forget(change.row.name)
        if change.action != "updated" or change.changes:
            self._changes.put(change)

    def _publish_loop(self) -> None:
        with Publisher("registry", "api", self.settings, context=self.context) as pub:
            next_beat = 0.0
            while not self._stop.is_set():
                changes = self._pending()
                for change in changes:
                    self._publish_change(pub, change)
                if changes or time.monotonic() >= next_beat:  # one snapshot for a burst
                    self._publish_snapshot(pub)
                    next_beat = time.monotonic() + self.settings.registry.snapshot_s

    def _pending(self) -> list[Change]:
        """The changes queued now (waiting up to ``POLL_S`` for the first)."""
        try:
            first = self._changes.get(timeout=POLL_S)
        except queue.Empty:
            return []
        changes = [first]
        while True:
            try:
                changes.append(self._changes.get_nowait())
            except queue.Empty:
                return [c for c in changes if c is not None]

    def _publish_change(self, pub: Publisher, change: Change) -> None:
        row = change.row
        status = "stopped" if change.action == "removed" else summary(row, self.live)["status"]
        fields = {
            "name": row.name,
            "action": change.action,
            "port": row.port,
            "fingerprint": row.fingerprint,
            "mcast_full": row.mcast_full,
            "mcast_dec": row.mcast_dec,
            "status": status,
            "changes": list(change.changes),
        }
        pub.publish(f"registry.channel.{row.name}", fields)
        self.published += 1

    def _publish_snapshot(self, pub: Publisher) -> None:
        try:
            rows = self.channels()
        except Exception:  # the database is away for now: the next beat tries again
            log.warning("registry.snapshot skipped: cannot read the channels", exc_info=True)
            return
        pub.publish("registry.snapshot", {"channels": [summary(r, self.live) for r in rows]})
        self.published += 1

    def _listen_loop(self) -> None:
        topics = ["relay.status", "ingest.relay"]
        with Subscriber(topics, self.settings, context=self.context) as sub:
            while not self._stop.is_set():
                event = sub.recv(timeout=LISTEN_POLL_S)
                if event is None:
                    continue
                if event.topic.startswith("relay.status."):
                    self.live.relay_status(event.fields)
                else:
                    self.live.ingest_relay(event.fields)
