"""The bus proxy: XSUB (publishers connect) -> XPUB (subscribers connect) in its own poll loop,
with the last-value cache and a 1 Hz ``bus.status`` event of its own."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from services.bus.cache import LastValueCache
from speeddata import events
from speeddata.bus import configure_socket, make_source
from speeddata.config import Settings

STATUS_TOPIC = "bus.status"
STATUS_INTERVAL_S = 1.0
POLL_MS = 100
"""Longest poll: how soon the loop notices a stop request."""
BATCH = 1000
"""Messages taken from one socket before looking at the other."""
REMOVAL_PREFIX = b"registry.channel."


@dataclass
class Counters:
    """The proxy's own counters of bus.status (the cache keeps its own)."""

    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    malformed: int = 0
    subscriptions: int = 0
    unsubscriptions: int = 0
    cache_sent: int = 0
    undecodable: int = 0


class Proxy:
    """Bound sockets, the cache and the counters; :meth:`serve` runs the loop."""

    def __init__(self, settings: Settings, context: zmq.Context) -> None:
        self.cache = LastValueCache(events.topics(), settings.bus.cache_beats)
        self.counters = Counters()
        self.source = make_source("bus", "proxy")
        self.started = time.time_ns()
        self._seq = 0
        self.xsub = context.socket(zmq.XSUB)
        self.xpub = context.socket(zmq.XPUB)
        for sock in (self.xsub, self.xpub):
            configure_socket(sock, settings)
        # Every subscribe and unsubscribe reaches the loop: a joining subscriber gets the
        # cache even when another already subscribed to the same prefix.
        self.xpub.setsockopt(zmq.XPUB_VERBOSER, 1)
        # No XPUB_NODROP, on purpose: a message that one subscriber's queue (at bus.hwm)
        # cannot take is dropped for that subscriber only, inside ZeroMQ, and the send never
        # fails. The proxy cannot see those drops; each subscriber counts its own from the
        # gaps in (source, seq). See docs/decisions/2026-12-01-bus-drops-per-subscriber.md.
        self.xsub_endpoint = _bind(self.xsub, settings.bus.xsub, "xsub")
        self.xpub_endpoint = _bind(self.xpub, settings.bus.xpub, "xpub")
        # The cache must hear cached topics and channel removals even with no subscriber.
        for prefix in (*self.cache.prefixes, REMOVAL_PREFIX.decode()):
            self.xsub.send(b"\x01" + prefix.encode())

    def serve(self, stop: Callable[[], bool]) -> None:
        """Forwards, caches and reports until ``stop()`` is true."""
        poller = zmq.Poller()
        poller.register(self.xsub, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        next_status = time.monotonic()
        while not stop():
            wait = min(POLL_MS, max(0, int((next_status - time.monotonic()) * 1000)))
            ready = dict(poller.poll(wait))
            if self.xsub in ready:
                self._forward()
            if self.xpub in ready:
                self._subscriptions()
            now = time.monotonic()
            if now >= next_status:
                self._publish_status(now)
                self.cache.expire(now)
                next_status = max(next_status + STATUS_INTERVAL_S, now)

    def _forward(self) -> None:
        now = time.monotonic()
        for _ in range(BATCH):
            try:
                frames = self.xsub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.counters.messages_in += 1
            self.counters.bytes_in += sum(len(f) for f in frames)
            if len(frames) != 2:
                self.counters.malformed += 1
                continue
            topic, payload = frames
            self._send(topic, payload)
            self.cache.offer(topic, payload, now)
            if topic.startswith(REMOVAL_PREFIX):
                self._channel_event(payload)

    def _channel_event(self, payload: bytes) -> None:
        try:
            name, fields = events.decode(payload)
        except events.EventError:
            self.counters.undecodable += 1
            return
        if name == "RegistryChannel" and fields["action"] == "removed":
            self.cache.remove_channel(fields["name"])

    def _subscriptions(self) -> None:
        for _ in range(BATCH):
            try:
                frame = self.xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not frame or frame[0] not in (0, 1):
                continue
            self.xsub.send(frame)
            if frame[0] == 0:
                self.counters.unsubscriptions += 1
                continue
            self.counters.subscriptions += 1
            self.cache.expire(time.monotonic())
            for topic, payload in self.cache.matching(frame[1:]):
                self._send(topic, payload)
                self.counters.cache_sent += 1

    def _send(self, topic: bytes, payload: bytes) -> None:
        """Hands a message to every matching subscriber whose queue has room; never blocks
        and never fails (an XPUB without NODROP drops per subscriber instead)."""
        self.xpub.send_multipart([topic, payload], zmq.NOBLOCK)
        self.counters.messages_out += 1
        self.counters.bytes_out += len(topic) + len(payload)

    def status(self) -> dict[str, Any]:
        """The fields of the next bus.status event."""
        self._seq += 1
        return {
            "source": self.source,
            "seq": self._seq,
            "time": time.time_ns(),
            "started": self.started,
            "xsub": self.xsub_endpoint,
            "xpub": self.xpub_endpoint,
            **dataclasses.asdict(self.counters),
            "cache_entries": len(self.cache),
            "cache_expired": self.cache.expired,
            "cache_removed": self.cache.removed,
        }

    def _publish_status(self, now: float) -> None:
        topic, payload = STATUS_TOPIC.encode(), events.encode(STATUS_TOPIC, self.status())
        self._send(topic, payload)
        self.cache.offer(topic, payload, now)


def _bind(sock: zmq.Socket, endpoint: str, what: str) -> str:
    """Binds and returns the endpoint actually bound (``tcp://127.0.0.1:0`` -> its port)."""
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as e:
        why = zmq.strerror(e.errno) if e.errno else str(e)  # without pyzmq's "(addr=...)"
        raise BindError(f"cannot bind {what} {endpoint}: {why}") from None
    last = sock.getsockopt(zmq.LAST_ENDPOINT)
    return last.decode() if isinstance(last, bytes) else str(last)


class BindError(OSError):
    """An endpoint of the proxy cannot be bound (in use, bad address)."""
