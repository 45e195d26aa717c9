"""A WebSocket client of the stripchart gateway for tests and benchmarks: proto/WS.md's
messages and binary frames decoded."""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from websockets.sync.client import ClientConnection, connect

MAGIC = b"SDW1"
LIVE, HISTORY = 1, 2


@dataclass
class Block:
    sub: int
    index: int
    time: np.ndarray
    values: np.ndarray
    """(signals, rows) float64."""
    reduced: bool
    last: tuple[int, np.ndarray] | None


@dataclass
class Frame:
    kind: int
    last_history: bool
    id: int
    blocks: list[Block] = field(default_factory=list)


def decode_frame(data: bytes) -> Frame:
    assert data[:4] == MAGIC, data[:16]
    kind, flags, count, sub = struct.unpack_from("<BBHI", data, 4)
    frame = Frame(kind, bool(flags & 1), sub)
    off = 16
    for _ in range(count):
        index, k, n, bflags, block_sub = struct.unpack_from("<HHIII", data, off)
        t = np.frombuffer(data, "<i8", n, off + 16)
        v = np.frombuffer(data, "<f8", n * k, off + 16 + 8 * n).reshape(k, n)
        off += 16 + 8 * n * (k + 1)
        last = None
        if bflags & 2:
            lt = struct.unpack_from("<q", data, off)[0]
            last = (lt, np.frombuffer(data, "<f8", k, off + 8))
            off += 8 * (k + 1)
        frame.blocks.append(Block(block_sub, index, t, v, bool(bflags & 1), last))
    assert off == len(data), (off, len(data))
    return frame


STACK = ("bus", "registry", "ingest", "stripchart")
READY_S = 60.0
"""How long each service may take to start (long: a loaded machine starts Python slowly)."""


def start_services(system: Any, procs: list[Any], services: tuple[str, ...] = STACK) -> Any:
    """Starts ``python -m services.<name>`` for each, in order, each ready before the next
    (stopped by the ``procs`` fixture); returns the last one."""
    for name in services:
        proc = system.start("-m", f"services.{name}", wait_ready=False)
        procs.append(proc)
        proc.wait_ready(READY_S)
    return proc


def gateway_url(ready: dict[str, str]) -> str:
    return f"ws://{ready['http']}/ws"


def open_ws(
    url: str, origin: str | None = None, rcvbuf: int | None = None, **kw: Any
) -> ClientConnection:
    """A client connection; ``rcvbuf`` sets a small kernel receive buffer (a client that stops
    reading then stops the gateway's sends soon, instead of after tens of MB)."""
    headers = {"Origin": origin} if origin else None
    if rcvbuf is not None:
        host, _, port = urlsplit(url).netloc.rpartition(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect((host, int(port)))
        kw["sock"] = sock
    return connect(url, additional_headers=headers, max_size=None, open_timeout=10, **kw)


def recv(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any] | Frame:
    """The next message: a JSON object or a decoded :class:`Frame`."""
    msg = ws.recv(timeout=timeout)
    return json.loads(msg) if isinstance(msg, str) else decode_frame(msg)


def recv_type(ws: ClientConnection, kind: str, timeout: float = 15.0) -> dict[str, Any]:
    """The next JSON message of ``type`` ``kind`` (others skipped)."""
    while True:
        msg = recv(ws, timeout)
        if isinstance(msg, dict) and msg["type"] == kind:
            return msg


def send(ws: ClientConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


class Collector:
    """Reads one connection's messages and gathers rows per (subscription, block)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.rows: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        self.history_done: set[int] = set()
        self.frames: list[Frame] = []

    def pump(self, timeout: float = 15.0) -> dict[str, Any] | Frame:
        msg = recv(self.ws, timeout)
        if isinstance(msg, dict):
            self.messages.append(msg)
            return msg
        self.frames.append(msg)
        if msg.kind == HISTORY and msg.last_history:
            self.history_done.add(msg.id)
        for b in msg.blocks:
            self.rows.setdefault((b.sub, b.index), []).append((b.time, b.values))
        return msg

    def columns(self, sub: int, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        parts = self.rows.get((sub, index), [])
        if not parts:
            return np.empty(0, np.int64), np.empty((0, 0))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], 1)

    def until(self, condition: Any, timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = condition()
            if got:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [m["type"] for m in self.messages[-10:]]
                raise AssertionError(f"no {what} within {timeout} s; last messages: {kinds}")
            try:
                self.pump(min(left, 1.0))
            except TimeoutError:
                continue

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


class RawClient:
    """A WebSocket client on a plain socket with a small receive buffer, that reads only when
    told to: a browser tab that stopped reading, as the gateway sees it."""

    def __init__(self, url: str, rcvbuf: int = 16384) -> None:
        host, _, port = urlsplit(url).netloc.rpartition(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, int(port)))
        self.sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, **message: Any) -> None:
        """One masked text frame (a client's frames are masked; the zero mask keeps it plain)."""
        data = json.dumps(message).encode()
        n = len(data)
        size = bytes([0x80 | n]) if n < 126 else bytes([0xFE]) + struct.pack(">H", n)
        self.sock.sendall(b"\x81" + size + b"\x00\x00\x00\x00" + data)

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def message(self, timeout: float = 15.0) -> dict[str, Any] | bytes:
        """The next message (one unfragmented frame: what the gateway sends)."""
        self.sock.settimeout(timeout)
        self._need(2)
        opcode, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(at + n)
        data, self.buf = self.buf[at : at + n], self.buf[at + n :]
        return json.loads(data) if opcode == 1 else data

    def close(self) -> None:
        self.sock.close()
