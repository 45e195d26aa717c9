"""One WebSocket connection: its requests answered, its subscriptions, and its sender task.

Nothing on the data path awaits the socket: the gateway hands rows to the subscriptions'
targets and messages to :meth:`Connection.post`; the sender task alone awaits ``send``, at
most ``max_fps`` live frames a second. A client that reads slowly loses its own oldest rows
(and is told), nobody else's."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from services.stripchart import frames, protocol
from services.stripchart.protocol import Ping, ProtocolError, Subscribe, Unsubscribe
from services.stripchart.streams import Target

if TYPE_CHECKING:
    from services.stripchart.gateway import Gateway

MAX_OUTBOX = 10_000
"""Messages waiting for a client that does not read at all: beyond, it is closed."""
POLICY_VIOLATION = 1008


class Subscription:
    def __init__(self, request: Subscribe) -> None:
        self.request = request
        self.id = request.id
        width = request.width
        self.bucket_ns = int(request.window_s * 1e9) // width if width else 0
        self.targets: list[Target] = []
        self.text: dict[str, list[str]] = {}
        self.text_seen: dict[str, int] = {}
        self.live = False
        """True once its history is queued: from then on its live rows are sent."""
        self.dropped_total = 0

    def channels(self) -> set[str]:
        return {name.partition(".")[0] for name in self.request.signals}


class Connection:
    def __init__(self, gateway: Gateway, websocket: WebSocket) -> None:
        self.gateway = gateway
        self.websocket = websocket
        self.subscriptions: dict[int, Subscription] = {}
        self.outbox: deque[str | bytes] = deque()
        self.wake = asyncio.Event()
        self.period = 1.0 / gateway.settings.stripchart.max_fps
        self.closing = False

    def post(self, message: dict[str, Any] | bytes) -> None:
        """Queues a message (JSON object or history frame) for the sender, in order."""
        if len(self.outbox) >= MAX_OUTBOX:
            self.closing = True
        else:
            self.outbox.append(message if isinstance(message, bytes) else protocol.dumps(message))
        self.wake.set()

    async def run(self) -> None:
        s = self.gateway.settings.stripchart
        self.post(protocol.hello(s.max_fps, s.queue_rows, time.time_ns()))
        for message in self.gateway.advertisements():
            self.post(message)
        sender = asyncio.create_task(self._send_loop())
        try:
            while not sender.done():
                received = await self.websocket.receive()
                if received["type"] == "websocket.disconnect":
                    return
                self._handle(received)
        except WebSocketDisconnect:
            return
        finally:
            sender.cancel()
            for sub in self.subscriptions.values():
                self.gateway.detach(sub)
            self.subscriptions.clear()

    def _handle(self, message: Mapping[str, Any]) -> None:
        try:
            text = message.get("text")
            if text is None:
                raise ProtocolError("binary", "the gateway takes JSON text messages only")
            self._act(protocol.parse(text, self.gateway.limits))
        except ProtocolError as e:
            self.post(e.message())

    def _act(self, request: protocol.Request) -> None:
        if isinstance(request, Ping):
            self.post({"type": "pong", "id": request.id, "time_ns": str(time.time_ns())})
        elif isinstance(request, Unsubscribe):
            sub = self.subscriptions.pop(request.id, None)
            if sub is None:
                raise ProtocolError("unknown_id", f"no subscription {request.id}", "id", request.id)
            self.gateway.detach(sub)
        else:
            self._subscribe(request)

    def _subscribe(self, request: Subscribe) -> None:
        old = self.subscriptions.pop(request.id, None)
        if old is not None:
            self.gateway.detach(old)
        limit = self.gateway.settings.stripchart.max_subscriptions
        if len(self.subscriptions) >= limit:
            raise ProtocolError(
                "too_many", f"at most {limit} subscriptions per connection", "id", request.id
            )
        sub = Subscription(request)
        self.subscriptions[sub.id] = sub
        self.gateway.subscribe(self, sub)

    async def _send_loop(self) -> None:
        ws = self.websocket
        last_frame = 0.0
        while not self.closing:
            await self.wake.wait()
            self.wake.clear()
            await self._drain()
            wait = last_frame + self.period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                await self._drain()
            notices, live = self._live_frames()  # no await since the outbox was empty
            for notice in notices:
                await ws.send_text(notice)
            for frame in live:
                await ws.send_bytes(frame)
                last_frame = time.monotonic()
                self.gateway.sent(len(frame))
        await ws.close(POLICY_VIOLATION, "the client does not read")

    async def _drain(self) -> None:
        while self.outbox:
            item = self.outbox.popleft()
            if isinstance(item, bytes):
                await self.websocket.send_bytes(item)
                self.gateway.sent(len(item))
            else:
                await self.websocket.send_text(item)

    def _live_frames(self) -> tuple[list[str], list[bytes]]:
        """The drop notices, and a live frame for each subscription whose history is sent and
        that has new rows: a frame carries its subscription's id and blocks indexed by that
        subscription's layout (proto/WS.md)."""
        live, notices = [], []
        for sub in self.subscriptions.values():
            if not sub.live:
                continue
            blocks = []
            dropped = 0
            for target in sub.targets:
                dropped += target.dropped
                target.dropped = 0
                block = target.take()
                if block is not None:
                    blocks.append(block)
            if dropped:
                sub.dropped_total += dropped
                self.gateway.dropped += dropped
                notice = {"type": "dropped", "id": sub.id, "rows": dropped}
                notices.append(protocol.dumps({**notice, "total": sub.dropped_total}))
            if blocks:
                live.append(frames.frame(frames.LIVE, blocks, sub.id))
        return notices, live
