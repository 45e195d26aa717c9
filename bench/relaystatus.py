"""The relay's own counters, heard on its bus socket: the bench binds a SUB socket where the
relay's PUB connects (`--bus`), so no proxy is needed, and keeps the latest relay.status."""

from __future__ import annotations

import threading
import time
from typing import Any

import zmq

from speeddata.events import EventError, decode

TOPIC = b"relay.status."


class StatusListener:
    """Collects relay.status events in a background thread; `latest` is the newest one."""

    def __init__(self) -> None:
        self._sock: zmq.Socket = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVTIMEO, 100)
        self._sock.setsockopt(zmq.SUBSCRIBE, TOPIC)
        self._sock.bind("tcp://127.0.0.1:*")
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.latest: dict[str, Any] | None = None
        self.events = 0
        self._last_at = 0.0
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._quit.is_set():
            try:
                _topic, payload = self._sock.recv_multipart()
            except (zmq.Again, ValueError):
                continue
            try:
                _name, fields = decode(payload)
            except EventError:
                continue
            self.latest = fields
            self.events += 1
            self._last_at = time.monotonic()

    def wait_final(self, quiet: float = 0.2, timeout: float = 2.0) -> dict[str, Any] | None:
        """The relay's last status, once the relay has exited: the newest event after none
        came for `quiet` seconds (at most `timeout`); None if none was heard."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self._last_at < quiet:
            time.sleep(0.02)
        return self.latest

    def close(self) -> None:
        self._quit.set()
        self._thread.join(2)
        self._sock.close(0)
