"""Publishing and subscribing on the SpeedData bus (the ZeroMQ proxy of ``services.bus``).

>>> with Publisher("mytool", "probe") as pub:          # connects to settings.bus.xsub
...     pub.publish("relay.status.example", {...})       # source, seq, time filled in
>>> publish("relay.status.example", {...})              # the same, from a shared Publisher
>>> for event in subscribe(["relay.status", "bus"]):    # connects to settings.bus.xpub
...     print(event.topic, event.fields)

The bus is lossy by contract: a publisher never blocks and counts what it drops; the proxy
drops what a slow subscriber's queue cannot take, for that subscriber only. A
:class:`Subscriber` drops exact repeats of (source, seq), which the proxy's last-value cache
produces on purpose when another subscriber joins, and counts its losses from the gaps in each
source's seq (``sub.lost``, ``sub.lost_by_source()``, ``on_gap=``). ZeroMQ reconnects both to a
restarted proxy by itself, and a subscriber's subscriptions make the proxy replay its cache on
every (re)connection.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import zmq

from speeddata import events
from speeddata._bus_seq import Gap, SeqTracker, Verdict
from speeddata.config import Settings, SettingsError, load_settings
from speeddata.events import EventError, decode, encode

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2000
HEARTBEAT_IVL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000


class BusTimeout(TimeoutError):
    """No event arrived in time (is the bus running, is anyone publishing?)."""


def bus_options(settings: Settings) -> tuple[int, int]:
    """``(hwm, linger_ms)`` of ``settings.bus``, checked; :class:`SettingsError` says what is
    wrong."""
    hwm, linger = settings.bus.hwm, settings.bus.linger_ms
    if not isinstance(hwm, int) or hwm < 0:
        raise SettingsError(f"bus.hwm must be a whole number >= 0, not {hwm!r}")
    if not isinstance(linger, int) or not 0 <= linger <= 1000:
        raise SettingsError(f"bus.linger_ms must be a whole number 0..1000, not {linger!r}")
    return hwm, linger


def configure_socket(sock: zmq.Socket, settings: Settings) -> None:
    """High-water marks and linger from the settings; reconnection with a capped back-off and
    ZMTP heartbeats, so a dead peer is noticed and a restarted proxy is rejoined."""
    hwm, linger = bus_options(settings)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, linger)
    sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)


def make_source(service: str, subject: str) -> str:
    """``<service>/<subject>/<pid>-<start ns>``: names this process instance in its events."""
    for what, value in (("service", service), ("subject", subject)):
        if not value or "/" in value or any(c.isspace() for c in value):
            raise ValueError(f"{what} {value!r}: must be non-empty, without '/' or spaces")
    return f"{service}/{subject}/{os.getpid()}-{time.time_ns()}"


class Publisher:
    """Publishes events to the proxy's XSUB endpoint. Never blocks: an event the bus cannot
    take now is dropped and counted in :attr:`dropped`. Not thread-safe (one per thread)."""

    def __init__(
        self,
        service: str,
        subject: str,
        settings: Settings | None = None,
        endpoint: str | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        settings = settings or load_settings()
        self.endpoint: str = endpoint or settings.bus.xsub
        self.source = make_source(service, subject)
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self._sock = (context or zmq.Context.instance()).socket(zmq.PUB)
        configure_socket(self._sock, settings)
        # With NODROP a full queue refuses the message (EAGAIN) instead of dropping it
        # silently, so the drop can be counted. Its one peer is the proxy's XSUB: nobody else
        # is held back (the proxy's own XPUB drops per subscriber).
        self._sock.setsockopt(zmq.XPUB_NODROP, 1)
        self._sock.connect(self.endpoint)

    def publish(self, topic: str, fields: Mapping[str, Any]) -> bool:
        """Encodes and sends one event; ``source`` and ``seq`` are filled in, ``time`` too
        unless given. True when sent; False when dropped. :class:`EventError` when the topic
        is not listed or the fields do not fit its schema (nothing sent, no seq used)."""
        taken = {"source", "seq"} & set(fields)
        if taken:
            raise EventError(f"{sorted(taken)} are set by the Publisher")
        event = {"time": time.time_ns(), **fields, "source": self.source, "seq": self.seq + 1}
        payload = encode(topic, event)
        self.seq += 1
        return self.send(topic, payload)

    def send(self, topic: str, payload: bytes) -> bool:
        """Sends an already encoded event as is; True when sent, False when dropped."""
        try:
            self._sock.send_multipart([topic.encode(), payload], zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


SETTLE_S = 0.3
"""How long :func:`publish` waits after creating its publisher: ZeroMQ drops what a new PUB
socket sends before the proxy's subscriptions reached it (the "slow joiner")."""

_shared: dict[tuple[str, str, str], Publisher] = {}


def publish(
    topic: str,
    fields: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    service: str = "tool",
    subject: str = "publish",
    endpoint: str | None = None,
) -> bool:
    """Publishes one event, as :meth:`Publisher.publish` does, through this process's shared
    :class:`Publisher` of ``(service, subject)`` (its ``source``), created on first use and
    closed when the process exits. That first call waits :data:`SETTLE_S` so the event is not
    lost while the publisher connects; later calls never block. True when sent, False when
    dropped; :class:`EventError` for an unlisted topic or fields that do not fit. Use a
    :class:`Publisher` of your own in a thread other than the first caller's."""
    settings = settings or load_settings()
    key = (endpoint or settings.bus.xsub, service, subject)
    pub = _shared.get(key)
    if pub is None:
        if not _shared:
            atexit.register(_close_shared)
        pub = _shared[key] = Publisher(service, subject, settings, endpoint)
        time.sleep(SETTLE_S)
    return pub.publish(topic, fields)


def _close_shared() -> None:
    while _shared:
        _shared.popitem()[1].close()


@dataclass(frozen=True)
class Event:
    """One decoded bus event: its topic, its schema's name and its fields."""

    topic: str
    name: str
    fields: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.fields["source"])

    @property
    def seq(self) -> int:
        return int(self.fields["seq"])


def topic_filters(topics: str | Iterable[str]) -> tuple[str, ...]:
    """Normalized whole-segment filters: ``"relay.status."`` -> ``"relay.status"``; ``""``
    matches every topic. ValueError for an empty segment (``"a..b"``) or spaces."""
    items = [topics] if isinstance(topics, str) else list(topics)
    if not items:
        raise ValueError("no topics to subscribe to")
    out = []
    for item in items:
        f = item.removesuffix(".")
        if f and (any(not seg for seg in f.split(".")) or any(c.isspace() for c in f)):
            raise ValueError(f"topic filter {item!r}: empty segment or space")
        out.append(f)
    return ("",) if "" in out else tuple(dict.fromkeys(out))


def topic_matches(topic: str, filters: Iterable[str]) -> bool:
    """True when some filter equals the topic or names its leading whole segments."""
    return any(not f or topic == f or topic.startswith(f + ".") for f in filters)


def unlisted_filters(filters: Iterable[str]) -> list[str]:
    """The filters (normalized, as :func:`topic_filters` makes them) that no topic listed in
    proto/topics.yaml can match: nothing would ever arrive through them. A placeholder
    segment (``<channel>``) matches any name: ``relay.status`` and ``relay.status.example``
    are listed, ``nosuch`` and ``relay.status.example.x`` are not."""
    patterns = [spec.segments for spec in events.topics()]
    return [f for f in filters if f and not any(_can_match(f, p) for p in patterns)]


def _can_match(wanted: str, pattern: tuple[str, ...]) -> bool:
    segments = wanted.split(".")
    if len(segments) > len(pattern):
        return False
    return all(p.startswith("<") or p == s for s, p in zip(segments, pattern, strict=False))


class Subscriber:
    """Receives events from the proxy's XPUB endpoint: whole-segment topic matches only,
    decoded, without duplicates, its losses counted.

    Counters: ``received`` (events returned), ``duplicates`` (exact repeats of (source, seq)
    dropped), ``undecodable``, and the losses: :attr:`lost`, :attr:`gaps`, :attr:`late`,
    :meth:`lost_by_source`. A loss is a gap in a source's ``seq`` (the bus drops what a slow
    subscriber's queue cannot take, for that subscriber only). What is not a loss: a source's
    first event (joining mid-stream), a new source (a restarted process counts from 1 again),
    the proxy's cache replays (repeats, or old events ahead of the live ones), and the seqs of
    topics outside this subscriber's filters: gaps are counted only for sources whose every
    listed topic the filters take in (:meth:`checks_gaps`; every source under ``""``).
    ``on_gap`` is called with each :class:`Gap` as it is found."""

    def __init__(
        self,
        topics: str | Iterable[str] = "",
        settings: Settings | None = None,
        endpoint: str | None = None,
        context: zmq.Context | None = None,
        on_gap: Callable[[Gap], None] | None = None,
    ) -> None:
        settings = settings or load_settings()
        self.endpoint: str = endpoint or settings.bus.xpub
        self.filters = topic_filters(topics)
        self.received = 0
        self.duplicates = 0
        self.undecodable = 0
        self._on_gap = on_gap
        self._seqs = SeqTracker(self.filters)
        self._sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        configure_socket(self._sock, settings)
        self._sock.setsockopt(zmq.LINGER, 0)
        for f in self.filters:
            self._sock.setsockopt(zmq.SUBSCRIBE, f.encode())
        self._sock.connect(self.endpoint)

    @property
    def lost(self) -> int:
        """Events lost so far, over every source whose gaps are counted (late ones taken off)."""
        return self._seqs.lost

    @property
    def gaps(self) -> int:
        """Gaps found so far (runs of consecutive lost events)."""
        return self._seqs.gaps

    @property
    def late(self) -> int:
        """Events counted lost that came after all (a cache replay), taken off :attr:`lost`."""
        return self._seqs.late

    def lost_by_source(self) -> dict[str, int]:
        """Events lost per source (sources that lost none left out; of the last 4096 sources
        heard, while :attr:`lost` counts them all)."""
        return self._seqs.lost_by_source()

    def checks_gaps(self, source: str) -> bool:
        """True when this subscriber's filters let it count ``source``'s gaps."""
        return self._seqs.checks(source)

    def recv(self, timeout: float | None = None) -> Event | None:
        """The next new matching event; None when none came within ``timeout`` seconds
        (``None``: wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._sock.poll(None if left is None else int(left * 1000) + 1):
                return None
            event = self._accept(self._sock.recv_multipart(zmq.NOBLOCK))
            if event is not None:
                return event

    def _accept(self, frames: list[bytes]) -> Event | None:
        try:
            topic_bytes, payload = frames
            topic = topic_bytes.decode()
        except (ValueError, UnicodeDecodeError):
            self.undecodable += 1
            return None
        if not topic_matches(topic, self.filters):
            return None
        try:
            name, fields = decode(payload)
        except EventError:
            self.undecodable += 1
            return None
        verdict, gap = self._seqs.observe(topic, fields["source"], fields["seq"])
        if verdict is Verdict.DUPLICATE:
            self.duplicates += 1
            return None
        if gap is not None and self._on_gap is not None:
            self._on_gap(gap)
        self.received += 1
        return Event(topic, name, fields)

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.recv()
            if event is not None:
                yield event

    def close(self) -> None:
        self._sock.close(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def subscribe(
    topics: str | Iterable[str] = "",
    settings: Settings | None = None,
    endpoint: str | None = None,
    timeout: float | None = None,
) -> Iterator[Event]:
    """Yields the events of ``topics`` (whole dot-separated segments: ``data.example`` never
    yields ``data.example_2``; ``relay.status`` yields ``relay.status.<any channel>``).
    Raises :class:`BusTimeout` when ``timeout`` seconds pass without one (None: never)."""
    with Subscriber(topics, settings, endpoint) as sub:
        while True:
            event = sub.recv(timeout)
            if event is None:
                raise BusTimeout(
                    f"no event on {', '.join(sub.filters) or 'any topic'} from {sub.endpoint} "
                    f"within {timeout} s (is the bus running?)"
                )
            yield event
