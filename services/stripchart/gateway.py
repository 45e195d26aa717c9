"""The gateway's state and loops: the channels the registry has (each with its memory), the
record source, the live streams, the connected clients, the 1 Hz status and the counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np
import zmq

from services.stripchart import frames
from services.stripchart.channels import KEPT, ChannelInfo, Rows
from services.stripchart.history import history, warm_archive
from services.stripchart.memory import ChannelStore
from services.stripchart.origin import OriginCheck
from services.stripchart.protocol import Limits
from services.stripchart.sources import BusSource, Counters, MulticastSource
from services.stripchart.streams import Stream, Target
from speeddata.bus import Publisher, bus_options
from speeddata.config import Settings, SettingsError
from speeddata.registry_watch import RegistryWatch

if TYPE_CHECKING:
    from services.stripchart.client import Connection, Subscription

log = logging.getLogger("services.stripchart")
SOURCES = ("bus", "multicast")
REGISTRY_CHECK_S = 0.2
STATUS_S = 1.0
HISTORY_FRAME_ROWS = 65536


class Gateway:
    """One per app: made by ``create_app`` (settings checked), run by its lifespan."""

    def __init__(self, settings: Settings) -> None:
        s = settings.stripchart
        if s.source not in SOURCES:
            raise SettingsError(f"stripchart.source must be one of {', '.join(SOURCES)}")
        if not s.max_fps > 0 or s.queue_rows < 1 or not s.memory_s >= 0:
            raise SettingsError("stripchart: max_fps > 0, queue_rows >= 1, memory_s >= 0")
        bus_options(settings)
        self.settings = settings
        self.origins = OriginCheck(settings)
        self.limits = Limits(s.max_window_s, s.max_signals)
        self.stores: dict[str, ChannelStore] = {}
        self.clients: set[Connection] = set()
        self.streams: dict[tuple[int, tuple[int, ...], int], Stream] = {}
        self.counters = Counters()
        self.frames = 0
        self.bytes = 0
        self.dropped = 0
        self.history_reads = 0
        self.archive_rows = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._data = asyncio.Event()
        self._woken = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def channels(self) -> dict[str, ChannelInfo]:
        return {name: store.info for name, store in self.stores.items()}

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._data = asyncio.Event()
        s = self.settings.stripchart
        self._zmq = zmq.Context()
        self._watch = RegistryWatch(
            self.settings,
            lambda event, **f: log.warning("%s %s", event, f),
            self._zmq,
            poll_s=s.registry_poll_s,
            kept=KEPT,
            name="stripchart-registry",
        )
        self._bus = BusSource(
            self.settings, self._deliver, self.counters, self._zmq, records=s.source == "bus"
        )
        self._sources: list[BusSource | MulticastSource] = [self._bus]
        if s.source == "multicast":
            self._sources.append(MulticastSource(self.settings, self._deliver, self.counters))
        self._publisher = Publisher("stripchart", "gateway", self.settings, context=self._zmq)
        self._watch.start()
        for source in self._sources:
            source.start()
        self._tasks = [
            asyncio.create_task(_forever(self._registry_step, REGISTRY_CHECK_S)),
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(_forever(self._status_step, STATUS_S)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:  # (warming tasks that ended are done already)
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await anyio.to_thread.run_sync(self._stop_threads)

    def _stop_threads(self) -> None:
        self._watch.stop()
        for source in self._sources:
            source.stop()
        self._publisher.close()
        self._zmq.destroy(linger=0)

    # -- channels ---------------------------------------------------------------------------

    async def _registry_step(self) -> None:
        records = self._watch.take()
        if records is not None:
            infos = await anyio.to_thread.run_sync(_infos, records)
            self._apply(infos)

    def _apply(self, infos: dict[str, ChannelInfo]) -> None:
        """Channels appear, change and disappear: stores, sources, open pages follow."""
        changed: set[str] = set()
        s = self.settings.stripchart
        for name in list(self.stores):
            if name not in infos:
                del self.stores[name]
                changed.add(name)
                self._broadcast({"type": "unadvertise", "channel": name})
        for name, info in infos.items():
            store = self.stores.get(name)
            if store is not None and store.info.key == info.key:
                if store.info.status != info.status or store.info.version != info.version:
                    store.info.status, store.info.version = info.status, info.version
                    self._broadcast(store.info.advertise())
                continue
            self.stores[name] = ChannelStore(info, s.memory_s, s.memory_max_rows)
            changed.add(name)
            self._broadcast(info.advertise())
        for source in self._sources:
            source.set_channels(self.channels)
        if changed:
            self._reresolve(changed)
            added = [self.stores[n].info for n in changed if n in self.stores]
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.create_task(_warm(self.settings.data_dir, added)))

    def advertisements(self) -> list[dict[str, Any]]:
        return [store.info.advertise() for store in self.stores.values()]

    def _broadcast(self, message: dict[str, Any]) -> None:
        for client in self.clients:
            client.post(message)

    # -- records ----------------------------------------------------------------------------

    def _deliver(self, info: ChannelInfo, rows: Rows) -> None:
        """From a source thread: rows of a channel version into its memory."""
        store = self.stores.get(info.name)
        if store is None or store.info is not info:
            return  # the channel changed meanwhile
        store.append(rows)
        if not self._woken and self._loop is not None:
            self._woken = True
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._data.set)

    async def _flush_loop(self) -> None:
        """At most ``max_fps`` times a second: new rows through the streams to the clients."""
        period = 1.0 / self.settings.stripchart.max_fps
        while True:
            await self._data.wait()
            self._data.clear()
            self._woken = False
            try:
                self._advance()
            except Exception:  # noqa: BLE001 - a bug must not stop the live data of all
                log.exception("advancing the live streams failed")
            await asyncio.sleep(period)

    def _advance(self) -> None:
        woken: set[Connection] = set()
        for stream in self.streams.values():
            if stream.advance():
                woken.update(t.owner for t in stream.targets)  # type: ignore[attr-defined]
        for client in self.clients:
            for sub in client.subscriptions.values():
                if sub.live and self._text_news(client, sub):
                    woken.add(client)
        for client in woken:
            client.wake.set()

    def _text_news(self, client: Connection, sub: Subscription) -> bool:
        values = {}
        for channel, names in sub.text.items():
            store = self.stores.get(channel)
            if store is None or sub.text_seen.get(channel) == store.text_version:
                continue
            sub.text_seen[channel] = store.text_version
            values.update(_text_values(store, channel, names))
        if values:
            client.post({"type": "text", "id": sub.id, "values": values})
        return bool(values)

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, client: Connection, sub: Subscription) -> None:
        """Resolves a new subscription, answers ``subscribed`` and ``latest``, and starts its
        history (its live rows flow once the history is queued)."""
        jobs = self._resolve(client, sub)
        client.post(self._latest(sub))
        if not sub.request.history:
            client.post(frames.frame(frames.HISTORY, [], sub.id, frames.LAST_HISTORY))
            sub.live = True
            return
        self.history_reads += 1
        asyncio.get_running_loop().create_task(self._history(client, sub, jobs))

    def _resolve(self, client: Connection, sub: Subscription) -> list[tuple[Target, int]]:
        """Targets on streams for the subscription's signals as the channels are now; posts
        ``subscribed``. Returns each target with the row its history ends before."""
        old = {t.stream: t for t in sub.targets}
        sub.targets, sub.text = [], {}
        wanted: dict[str, list[str]] = {}
        for name in sub.request.signals:
            channel, _, signal = name.partition(".")
            wanted.setdefault(channel, []).append(signal)
        blocks: list[dict[str, Any]] = []
        texts: list[dict[str, Any]] = []
        missing: list[str] = []
        jobs: list[tuple[Target, int]] = []
        q = self.settings.stripchart.queue_rows
        for channel, signals in wanted.items():
            store = self.stores.get(channel)
            if store is None:
                missing += [f"{channel}.{s}" for s in signals]
                continue
            numeric, text, absent = _pick(store.info, signals)
            missing += [f"{channel}.{s}" for s in absent]
            if text:
                sub.text[channel] = text
                texts.append({"channel": channel, "signals": text})
            if not numeric:
                continue
            stream = self._stream(store, [store.info.index[n] for n in numeric], sub.bucket_ns)
            target = old.pop(stream, None) or Target(sub.id, 0, stream, q)
            target.index = len(blocks)
            target.owner = client  # type: ignore[attr-defined]
            stream.targets.add(target)
            sub.targets.append(target)
            jobs.append((target, stream.open_from))
            blocks.append({"channel": channel, "clock": store.info.clock, "signals": numeric})
        for target in old.values():
            self._unhook(target)
        client.post(
            {
                "type": "subscribed",
                "id": sub.id,
                "window": sub.request.window_s,
                "width": sub.request.width,
                "bucket_ns": str(sub.bucket_ns),
                "blocks": blocks,
                "text": texts,
                "missing": missing,
            }
        )
        return jobs

    def _stream(self, store: ChannelStore, signals: list[int], bucket_ns: int) -> Stream:
        key = (id(store), tuple(signals), bucket_ns)
        stream = self.streams.get(key)
        if stream is None or stream.store is not store:
            stream = self.streams[key] = Stream(store, signals, bucket_ns)
        return stream

    def _unhook(self, target: Target) -> None:
        stream = target.stream
        stream.targets.discard(target)
        if not stream.targets:
            key = (id(stream.store), tuple(stream.signals), stream.bucket_ns)
            if self.streams.get(key) is stream:
                del self.streams[key]

    def detach(self, sub: Subscription) -> None:
        for target in sub.targets:
            self._unhook(target)
        sub.targets = []

    def _reresolve(self, channels: set[str]) -> None:
        for client in self.clients:
            for sub in client.subscriptions.values():
                if sub.channels() & channels:
                    self._resolve(client, sub)
                    client.wake.set()

    def _latest(self, sub: Subscription) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for target in sub.targets:
            store = target.stream.store
            if store.latest is None:
                continue
            t, row = store.latest
            for i in target.stream.signals:
                name = store.info.numeric[i].name
                values[f"{store.info.name}.{name}"] = {"t": t / 1e6, "v": _json_number(row[i])}
        for channel, names in sub.text.items():
            text_store = self.stores.get(channel)
            if text_store is not None:
                sub.text_seen[channel] = text_store.text_version
                values.update(_text_values(text_store, channel, names))
        return {"type": "latest", "id": sub.id, "values": values}

    async def _history(
        self, client: Connection, sub: Subscription, jobs: list[tuple[Target, int]]
    ) -> None:
        request = sub.request
        data_dir = self.settings.data_dir
        out: list[bytes] = []
        dropped = 0
        for target, upto in jobs:
            stream = target.stream
            args = (stream.store, stream.signals, upto, request.window_s, sub.bucket_ns, data_dir)
            t, v, reduced, from_archive = await anyio.to_thread.run_sync(history, *args)
            self.archive_rows += from_archive
            over = len(t) - self.settings.stripchart.queue_rows
            if over > 0:
                t, v, dropped = t[over:], v[:, over:], dropped + over
            for a in range(0, len(t), HISTORY_FRAME_ROWS):
                b = a + HISTORY_FRAME_ROWS
                block = frames.Block(sub.id, target.index, t[a:b], v[:, a:b], reduced)
                out.append(frames.frame(frames.HISTORY, [block], sub.id))
        if client.subscriptions.get(sub.id) is not sub:
            return  # replaced or ended meanwhile
        if dropped:
            sub.dropped_total += dropped
            self.dropped += dropped
            client.post({"type": "dropped", "id": sub.id, "rows": dropped, "total": dropped})
        if out:
            out[-1] = out[-1][:5] + bytes([frames.LAST_HISTORY]) + out[-1][6:]
        else:
            out.append(frames.frame(frames.HISTORY, [], sub.id, frames.LAST_HISTORY))
        for frame in out:
            client.post(frame)
        sub.live = True

    # -- status -----------------------------------------------------------------------------

    def sent(self, size: int) -> None:
        self.frames += 1
        self.bytes += size

    async def _status_step(self) -> None:
        self._broadcast(self._status_message())
        self._publisher.publish("stripchart.status", self.status_fields())

    def _status_message(self) -> dict[str, Any]:
        now = time.monotonic()
        channels = {}
        for name, store in self.stores.items():
            heard = self._bus.status.get(name)
            f = heard[1] if heard else {}
            channels[name] = {
                "status": store.info.status,
                "state": f.get("state"),
                "rate": f.get("rate"),
                "record_rate": f.get("record_rate"),
                "age_s": round(now - heard[0], 3) if heard else None,
            }
        return {"type": "status", "channels": channels}

    def status_fields(self) -> dict[str, Any]:
        s = self.settings.stripchart
        c = self.counters
        return {
            "http": f"{s.bind}:{s.port}" if s.port else "",
            "clients": len(self.clients),
            "subscriptions": sum(len(x.subscriptions) for x in self.clients),
            "channels": len(self.stores),
            "frames": self.frames,
            "bytes": self.bytes,
            "dropped": self.dropped,
            "batches": c.batches,
            "records": c.records,
            "undecodable": c.undecodable,
            "lost": c.lost,
            "history_reads": self.history_reads,
            "archive_rows": self.archive_rows,
        }


async def _forever(step: Callable[[], Awaitable[None]], period: float) -> None:
    """``step()`` every ``period`` seconds; a failure is logged, and the next step comes."""
    while True:
        try:
            await step()
        except Exception:  # noqa: BLE001 - a bug in one step must not end the loop
            log.exception("%s failed", getattr(step, "__name__", "a step"))
        await asyncio.sleep(period)


async def _warm(data_dir: Path, channels: list[ChannelInfo]) -> None:
    """Builds the archive's block indexes of new channels on a thread, so that the first
    history a client asks reads only its blocks (issue 10: a 1-hour window full in < 1 s)."""
    try:
        await anyio.to_thread.run_sync(warm_archive, data_dir, channels)
    except Exception:  # noqa: BLE001 - warming is an optimization: a history reads anyway
        log.exception("warming the archive index failed")


def _infos(records: list[dict[str, Any]]) -> dict[str, ChannelInfo]:
    """The registry's records made ready (asks the relay for archive schemas: a thread)."""
    out = {}
    for record in records:
        try:
            out[record["name"]] = ChannelInfo(record)
        except (KeyError, TypeError, ValueError) as e:
            log.warning("channel %s left out: %r", record.get("name"), e)
    return out


def _pick(info: ChannelInfo, signals: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(numeric, text, absent) signal names of one channel, ``*`` as every numeric one."""
    numeric: list[str] = []
    text: list[str] = []
    absent: list[str] = []
    texts = {s.name for s in info.text}
    for name in signals:
        if name == "*":
            numeric += [s.name for s in info.numeric if s.name not in numeric]
        elif name in info.index:
            if name not in numeric:
                numeric.append(name)
        elif name in texts:
            text.append(name)
        else:
            absent.append(name)
    return numeric, text, absent


def _json_number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _text_values(store: ChannelStore, channel: str, names: list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        if name in store.text:
            t, v = store.text[name]
            if isinstance(v, bytes):
                v = v.hex()
            elif not isinstance(v, str | int | float | bool | type(None)):
                v = str(v)
            out[f"{channel}.{name}"] = {"t": t / 1e6, "v": v}
    return out
