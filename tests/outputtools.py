"""Helpers for tests of the relay's outputs: a bus stand-in that collects events, multicast
receivers on random loopback groups, and a reference decimator written from the contract
(independent of the relay's C code)."""

from __future__ import annotations

import io
import math
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import fastavro
import zmq

from speeddata import events
from speeddata._avro import without_logical_types
from speeddata.schema import archive_schema

IP_MULTICAST_ALL = 49  # linux/in.h; not exported by the socket module
NUMERIC = {"int", "long", "float", "double"}
TIMEOUT = 15.0

Event = tuple[str, dict[str, Any]]


class BusCollector:
    """Stands in for the bus: a SUB bound on 127.0.0.1 (an ephemeral port, or `port`) that a
    relay's publisher connects to. A thread receives continuously (a bound SUB sends its
    subscription only while its owner uses it), decodes every event with speeddata.events and
    checks it is listed in proto/topics.yaml."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self.events: list[Event] = []
        self.problems: list[str] = []
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port, ready), daemon=True)
        self._thread.start()
        if not ready.wait(TIMEOUT):
            raise AssertionError("the bus collector did not bind")
        if self.problems:
            raise AssertionError(self.problems[0])

    def _run(self, port: int, ready: threading.Event) -> None:
        ctx: zmq.Context = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            sub.bind(f"tcp://127.0.0.1:{port}")
            self.endpoint = sub.getsockopt(zmq.LAST_ENDPOINT).decode()
        except zmq.ZMQError as e:
            self.problems.append(f"cannot bind the bus collector: {e}")
            sub.close()
            ready.set()
            return
        ready.set()
        while not self._stop.is_set():
            if sub.poll(20):
                self._add(sub.recv_multipart())
        sub.close()

    def _add(self, frames: list[bytes]) -> None:
        with self._lock:
            try:
                topic = frames[0].decode()
                _, fields = events.decode(frames[1])
                events.assert_event_listed(topic, fields)
                self.events.append((topic, fields))
            except (AssertionError, events.EventError, IndexError, UnicodeDecodeError) as e:
                self.problems.append(f"bad event {frames[:1]!r}: {e}")
            self._lock.notify_all()

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def of(self, topic: str) -> list[dict[str, Any]]:
        """The fields of every event received on `topic` so far, in order."""
        with self._lock:
            assert not self.problems, self.problems
            return [f for t, f in self.events if t == topic]

    def wait(
        self, topic: str, predicate: Callable[[dict[str, Any]], bool] = lambda f: True
    ) -> dict[str, Any]:
        """The first event on `topic` (received so far or later) satisfying `predicate`."""
        deadline = time.monotonic() + TIMEOUT
        with self._lock:
            while True:
                assert not self.problems, self.problems
                for t, f in self.events:
                    if t == topic and predicate(f):
                        return f
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f for t, f in self.events if t == topic][-3:]
                    raise AssertionError(f"no matching {topic} event in {TIMEOUT}s; last: {seen}")
                self._lock.wait(min(left, 0.1))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)


class McastReceiver:
    """A member of a random 239.255.x.y group on interface 127.0.0.1 (IP_MULTICAST_ALL off)."""

    def __init__(self) -> None:
        self.group = f"239.255.{random.randint(1, 254)}.{random.randint(1, 254)}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((self.group, 0))
        self.port = self.sock.getsockname()[1]
        mreq = socket.inet_aton(self.group) + socket.inet_aton("127.0.0.1")
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)

    @property
    def endpoint(self) -> str:
        return f"{self.group}:{self.port}"

    def receive(self, count: int) -> list[bytes]:
        """Exactly `count` datagrams (fails loudly when fewer arrive within the timeout)."""
        got: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.endpoint}: {len(got)} of {count} datagrams arrived")
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(65536))
            except TimeoutError:
                continue
        return got

    def receive_records(
        self, schema: dict[str, Any], count: int
    ) -> tuple[list[bytes], list[dict[str, Any]]]:
        """Datagrams of bare records back to back until `count` records arrived (fails loudly
        when fewer arrive within the timeout): (the datagrams, their records in order)."""
        grams: list[bytes] = []
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + TIMEOUT
        while len(records) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.endpoint}: {len(records)} of {count} records arrived")
            self.sock.settimeout(left)
            try:
                grams.append(self.sock.recv(65536))
            except TimeoutError:
                continue
            records += decode_records(schema, grams[-1])
        return grams, records

    def extra(self, quiet: float = 0.5) -> list[bytes]:
        """Whatever else arrives within `quiet` seconds (expected: nothing)."""
        self.sock.settimeout(quiet)
        out = []
        try:
            while True:
                out.append(self.sock.recv(65536))
        except TimeoutError:
            return out

    def close(self) -> None:
        self.sock.close()


# -- decoding ---------------------------------------------------------------------------------


def decode_records(schema: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    """Bare records back to back; asserts they fill the datagram exactly."""
    parsed = fastavro.parse_schema(schema)
    buf = io.BytesIO(data)
    out = []
    while buf.tell() < len(data):
        out.append(fastavro.schemaless_reader(buf, parsed, None))
    assert buf.tell() == len(data), f"{buf.tell() - len(data)} bytes read past the datagram"
    return out  # type: ignore[return-value]


def pack_records(encoded: list[bytes], budget: int) -> list[bytes]:
    """The decimated datagrams of the contract for these records arriving together: records
    back to back, as many as fit in `budget` bytes, never split; a record of the budget or
    more goes alone (budget 0: one record per datagram)."""
    grams: list[bytes] = []
    open_: bytes | None = None
    for rec in encoded:
        if open_ is not None and len(open_) + len(rec) <= budget:
            open_ += rec
        else:
            if open_ is not None:
                grams.append(open_)
            open_ = rec
        if len(open_) >= budget:
            grams.append(open_)
            open_ = None
    if open_ is not None:
        grams.append(open_)
    return grams


def decode_batch(schema: dict[str, Any], batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The archive records of a DataBatch event (rx_time first), checking its count."""
    parsed = fastavro.parse_schema(without_logical_types(archive_schema(schema)))
    return events.batch_records(batch, parsed)


# -- reference decimation, from the contract ----------------------------------------------------


def aggregated_fields(schema: dict[str, Any], time_field: str | None) -> dict[str, str]:
    """name -> numeric type of each aggregated field: int/long/float/double, or a union of null
    with one of them; never the time field."""
    out = {}
    for f in schema["fields"]:
        t = f["type"]
        if isinstance(t, list) and len(t) == 2 and "null" in t:
            t = t[1] if t[0] == "null" else t[0]
        if isinstance(t, str) and t in NUMERIC and f["name"] != time_field:
            out[f["name"]] = t
    return out


def _round_half_away(x: Fraction) -> int:
    n = math.floor(abs(x) + Fraction(1, 2))
    return n if x >= 0 else -n


def _float32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _aggregate(values: list[Any], kind: str, how: str) -> Any:
    if not values:
        return None
    if how == "min":
        return min(values)
    if how == "max":
        return max(values)
    integral = kind in ("int", "long")
    if how == "mean":
        if integral:
            return _round_half_away(Fraction(sum(values), len(values)))
        result = sum(values) / len(values)
    else:  # rms
        if integral:
            with localcontext() as ctx:
                ctx.prec = 60
                root = (Decimal(sum(v * v for v in values)) / len(values)).sqrt()
            return _round_half_away(Fraction(root))
        result = math.sqrt(sum(v * v for v in values) / len(values))
    return _float32(result) if kind == "float" else result


def _window_record(
    base: dict[str, Any], window: list[dict[str, Any]], agg: dict[str, str], how: str
) -> dict[str, Any]:
    out = dict(base)
    for name, kind in agg.items():
        out[name] = _aggregate([r[name] for r in window if r[name] is not None], kind, how)
    return out


def decimate(
    records: list[dict[str, Any]],
    schema: dict[str, Any],
    algorithm: str,
    n: int,
    time_field: str | None = "time",
) -> list[tuple[int, dict[str, Any]]]:
    """(index of the record whose other fields and rx_time it takes, decimated record) for every
    output of the contract's decimation; incomplete windows produce nothing."""
    if algorithm == "downsample":
        return [(i, records[i]) for i in range(0, len(records), n)]
    agg = aggregated_fields(schema, time_field)
    how = "mean" if algorithm == "average" else algorithm
    out = []
    for start in range(0, len(records) - n + 1, n):
        window = records[start : start + n]
        last = start + n - 1
        if how == "minmax":
            out.append((start, _window_record(records[start], window, agg, "min")))
            out.append((last, _window_record(records[last], window, agg, "max")))
        else:
            out.append((last, _window_record(records[last], window, agg, how)))
    return out
