"""Where live records come from, each a thread: :class:`BusSource` (``data.<channel>`` events,
and every ``relay.*`` event for the channels' state) or :class:`MulticastSource` (each
channel's decimated multicast group). Both decode a batch with its own channel's schema —
a ``data.<channel>`` batch only when its fingerprint is that schema's — and hand the rows to
``deliver(channel, rows)``; what does not decode is counted and skipped."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from services.stripchart.channels import ChannelInfo, Rows
from speeddata.bus import Event, Subscriber
from speeddata.config import Settings

RECV_S = 0.1
IP_MULTICAST_ALL = 49  # linux/in.h; not exported by the socket module
MCAST_RCVBUF = 8 << 20

Deliver = Callable[[ChannelInfo, Rows], None]


class Counters:
    def __init__(self) -> None:
        self.batches = 0
        self.records = 0
        self.undecodable = 0
        self.lost = 0


class _Source:
    """The channels (set by the gateway as the registry changes) and the thread."""

    def __init__(self, settings: Settings, deliver: Deliver, counters: Counters) -> None:
        self.settings = settings
        self.deliver = deliver
        self.counters = counters
        self.channels: dict[str, ChannelInfo] = {}
        self.status: dict[str, tuple[float, dict[str, Any]]] = {}
        """The latest relay.status of each channel: (monotonic time heard, fields)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def set_channels(self, channels: dict[str, ChannelInfo]) -> None:
        self.channels = dict(channels)  # replaced whole: the thread reads it without a lock

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        raise NotImplementedError

    def _decoded(self, info: ChannelInfo, decode: Callable[[], Rows]) -> None:
        self.counters.batches += 1
        try:
            rows = decode()
        except ValueError:
            self.counters.undecodable += 1
            return
        self.counters.records += len(rows)
        self.deliver(info, rows)


class BusSource(_Source):
    """``data`` and ``relay`` events from the bus. With ``records`` False (the multicast
    source runs beside it) only the relays' status is taken."""

    def __init__(
        self,
        settings: Settings,
        deliver: Deliver,
        counters: Counters,
        context: zmq.Context,
        records: bool = True,
    ) -> None:
        super().__init__(settings, deliver, counters)
        self.context = context
        self.records = records

    def _run(self) -> None:
        with Subscriber(["data", "relay"], self.settings, context=self.context) as sub:
            while not self._stop.is_set():
                event = sub.recv(timeout=RECV_S)
                if event is not None:
                    self._event(event)
                self.counters.lost = sub.lost

    def _event(self, event: Event) -> None:
        kind, _, channel = event.topic.partition(".")
        if kind == "relay":
            what, _, channel = channel.partition(".")
            if what == "status":
                self.status[channel] = (time.monotonic(), event.fields)
            return
        info = self.channels.get(channel)
        if info is None or not self.records:
            return
        f = event.fields
        if f["fingerprint"] != info.fingerprint:
            self.counters.batches += 1
            self.counters.undecodable += 1  # another version of the channel: not its schema
            return
        self._decoded(info, lambda: info.decode_archive(f["records"], f["count"]))


class MulticastSource(_Source):
    """Each channel's decimated group (``multicast.decimated`` of its registry record): bare
    records, received at the datagram's arrival time (the group carries no rx_time)."""

    def __init__(self, settings: Settings, deliver: Deliver, counters: Counters) -> None:
        super().__init__(settings, deliver, counters)
        self._sockets: dict[str, tuple[str, socket.socket]] = {}

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._follow()
                by_fd = {s.fileno(): name for name, (_, s) in self._sockets.items()}
                if not by_fd:
                    self._stop.wait(RECV_S)
                    continue
                ready, _, _ = select.select(list(by_fd), [], [], RECV_S)
                for fd in ready:
                    self._receive(by_fd[fd])
        finally:
            for _, s in self._sockets.values():
                s.close()

    def _follow(self) -> None:
        """Joins the groups of new channels, leaves those of removed or moved ones."""
        wanted = {n: i.mcast_dec for n, i in self.channels.items() if i.mcast_dec}
        for name, (endpoint, sock) in list(self._sockets.items()):
            if wanted.get(name) != endpoint:
                sock.close()
                del self._sockets[name]
        for name, endpoint in wanted.items():
            if name not in self._sockets:
                try:
                    self._sockets[name] = (endpoint, self._join(endpoint))
                except (OSError, ValueError):
                    continue  # cannot join now: tried again next round

    def _join(self, endpoint: str) -> socket.socket:
        group, _, port = endpoint.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, MCAST_RCVBUF)
            sock.bind((group, int(port)))
            mreq = socket.inet_aton(group) + socket.inet_aton(self.settings.multicast.interface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _receive(self, name: str) -> None:
        sock = self._sockets[name][1]
        info = self.channels.get(name)
        for _ in range(256):
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            if info is not None:
                self._bare(info, data, time.time_ns())

    def _bare(self, info: ChannelInfo, data: bytes, rx_time: int) -> None:
        self._decoded(info, lambda: info.decode_bare(data, rx_time))
