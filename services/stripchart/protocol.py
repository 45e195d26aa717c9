"""The control messages of proto/WS.md: what a client may send (checked, as dataclasses) and
the JSON the gateway answers with. Binary frames are :mod:`services.stripchart.frames`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_ID = 2**31 - 1
MAX_WIDTH = 16384
DEFAULT_WINDOW_S = 30.0
DEFAULT_WIDTH = 1000


class ProtocolError(ValueError):
    """A client message the gateway cannot act on: answered with an ``error`` message."""

    def __init__(
        self, code: str, detail: str, field: str | None = None, id: int | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        self.id = id

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        if self.id is not None:
            out["id"] = self.id
        return out


@dataclass(frozen=True)
class Subscribe:
    id: int
    signals: tuple[str, ...]
    window_s: float
    width: int
    history: bool


@dataclass(frozen=True)
class Unsubscribe:
    id: int


@dataclass(frozen=True)
class Ping:
    id: Any


@dataclass(frozen=True)
class Limits:
    """What the settings allow a client (``stripchart.max_*``)."""

    max_window_s: float
    max_signals: int


Request = Subscribe | Unsubscribe | Ping


def parse(text: str, limits: Limits) -> Request:
    """The request of one text message; :class:`ProtocolError` says what is wrong with it."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"a message may have {MAX_MESSAGE_BYTES} bytes at most")
    try:
        body = json.loads(text)
    except ValueError as e:
        raise ProtocolError("bad_json", f"not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    kind = body.get("type")
    if kind == "ping":
        return Ping(body.get("id"))
    if kind == "subscribe":
        return _subscribe(body, limits)
    if kind == "unsubscribe":
        return Unsubscribe(_id(body))
    raise ProtocolError("bad_type", f"unknown message type {kind!r} (subscribe, unsubscribe, ping)")


def _id(body: dict[str, Any]) -> int:
    value = body.get("id")
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise ProtocolError("bad_field", f"id must be an integer 1..{MAX_ID}", "id")
    return value


def _subscribe(body: dict[str, Any], limits: Limits) -> Subscribe:
    sub_id = _id(body)

    def bad(field: str, detail: str) -> ProtocolError:
        return ProtocolError("bad_field", detail, field, sub_id)

    signals = body.get("signals")
    if not isinstance(signals, list) or not all(isinstance(s, str) for s in signals):
        raise bad("signals", "signals must be a list of 'channel.signal' strings")
    if len(signals) > limits.max_signals:
        raise ProtocolError(
            "too_many", f"at most {limits.max_signals} signals per subscription", "signals", sub_id
        )
    for name in signals:
        channel, dot, signal = name.partition(".")
        if not channel or not dot or not signal or any(not p for p in signal.split(".")):
            raise bad("signals", f"{name!r} is not 'channel.signal' (or 'channel.*')")
    window = body.get("window", DEFAULT_WINDOW_S)
    if not _number(window) or not 0 < window <= limits.max_window_s:
        raise bad(
            "window", f"window must be a number of seconds > 0 and <= {limits.max_window_s:g}"
        )
    width = body.get("width", DEFAULT_WIDTH)
    if type(width) is not int or not 0 <= width <= MAX_WIDTH:
        raise bad("width", f"width must be an integer 0..{MAX_WIDTH} (pixels; 0: unreduced)")
    history = body.get("history", True)
    if type(history) is not bool:
        raise bad("history", "history must be true or false")
    return Subscribe(sub_id, tuple(dict.fromkeys(signals)), float(window), width, history)


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def dumps(message: dict[str, Any]) -> str:
    """A server message as JSON text (NaN and infinities are not JSON: callers pass None)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def hello(max_fps: float, queue_rows: int, time_ns: int) -> dict[str, Any]:
    return {
        "type": "hello",
        "version": VERSION,
        "max_fps": max_fps,
        "queue_rows": queue_rows,
        "time_ns": str(time_ns),
    }
