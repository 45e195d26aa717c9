"""A WebSocket client of the stripchart gateway for tests and benchmarks: proto/WS.md's
messages and binary frames decoded."""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

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


def gateway_url(ready: dict[str, str]) -> str:
    return f"ws://{ready['http']}/ws"


def open_ws(url: str, origin: str | None = None, **kw: Any) -> ClientConnection:
    headers = {"Origin": origin} if origin else None
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
