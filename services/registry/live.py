"""What the registry heard about each channel's relay on the bus: the latest ``relay.status``
(heartbeat and counters) and ``ingest.relay`` (started, exited, backoff, stopped), and the
channel status that follows from them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from speeddata.events import listing

COUNTERS = tuple(listing()["relay_counters"])
"""The relay_counters of proto/topics.yaml that a channel record carries."""

FAILING = ("exited", "backoff")


@dataclass
class Heard:
    heartbeat_ns: int | None = None
    state: str | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    ingest_action: str | None = None
    ingest_ns: int = 0
    detail: str = ""


@dataclass(frozen=True)
class View:
    status: str
    heartbeat_ns: int | None
    last_error: str | None
    counters: dict[str, Any]


class Live:
    """Thread-safe: the bus listener writes, request handlers read."""

    def __init__(self, stale_s: float) -> None:
        self.stale_ns = int(stale_s * 1e9)
        self._heard: dict[str, Heard] = {}
        self._lock = threading.Lock()

    def relay_status(self, fields: dict[str, Any]) -> None:
        with self._lock:
            heard = self._heard.setdefault(fields["channel"], Heard())
            heard.heartbeat_ns = time.time_ns()
            heard.state = fields.get("state")
            heard.counters = {k: fields[k] for k in COUNTERS if k in fields}
            heard.counters["state"] = fields.get("state")

    def ingest_relay(self, fields: dict[str, Any]) -> None:
        with self._lock:
            heard = self._heard.setdefault(fields["channel"], Heard())
            changed = int(fields.get("changed") or fields["time"])
            if changed < heard.ingest_ns:
                return  # an older action repeated
            heard.ingest_action = fields["action"]
            heard.ingest_ns = changed
            heard.detail = fields.get("detail") or ""

    def forget(self, name: str) -> None:
        with self._lock:
            self._heard.pop(name, None)

    def view(self, name: str, since_ns: int) -> View:
        """The status of channel ``name`` registered (or changed) at ``since_ns``."""
        return self.views([(name, since_ns)])[0]

    def views(self, channels: list[tuple[str, int]]) -> list[View]:
        """:meth:`view` of each ``(name, since_ns)``, under one lock."""
        now = time.time_ns()
        nothing = Heard()
        with self._lock:
            return [
                self._view(self._heard.get(name, nothing), since, now) for name, since in channels
            ]

    def _view(self, heard: Heard, since_ns: int, now: int) -> View:
        return View(
            status=self._status(heard, since_ns, now),
            heartbeat_ns=heard.heartbeat_ns,
            last_error=(heard.detail or None) if heard.ingest_action in FAILING else None,
            counters=heard.counters,  # replaced whole by relay_status, never changed in place
        )

    def _status(self, heard: Heard, since_ns: int, now: int) -> str:
        beat = heard.heartbeat_ns
        fresh = beat is not None and now - beat <= self.stale_ns
        if heard.ingest_action in FAILING and heard.ingest_ns >= since_ns:
            return "failed"
        if fresh:
            return "active"
        if heard.ingest_action == "stopped" or beat is not None:
            return "stopped"
        return "starting"
