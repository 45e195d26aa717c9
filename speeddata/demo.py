"""The demo signals of the original SpeedData, as endless streams of channel records.

``example``: sine (period 20 samples), ramp from -1 to +1 over 40 samples, square wave (period
20), uniform noise in [-0.5, 0.5], a random word, a counter and the device time in ns.
``temperature``: an environmental sensor whose readings drift slowly, with a status of
``ok``, ``warning`` or ``error`` that follows them."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]

WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip


def example_records(
    rng: random.Random, clock: Callable[[], int] = time.time_ns
) -> Iterator[Record]:
    """Records of the ``example`` channel: sample n carries counter n."""
    n = 0
    while True:
        yield {
            "time": clock(),
            "message": rng.choice(WORDS),
            "counter": n,
            "sine_wave": math.sin(2 * math.pi * n / 20),
            "ramp": -1.0 + 2.0 * (n % 40) / 39,
            "square_wave": 1.0 if n % 20 < 10 else -1.0,
            "noise": rng.uniform(-0.5, 0.5),
        }
        n = (n + 1) % 2**31


def temperature_records(
    rng: random.Random, clock: Callable[[], int] = time.time_ns, device_id: str = "sensor-01"
) -> Iterator[Record]:
    """Records of the ``temperature`` channel: mean-reverting random walks around room
    conditions, so values move slowly and stay plausible however long the demo runs."""
    celsius, pressure, humidity = 21.5, 101_325.0, 45.0
    while True:
        celsius += 0.02 * (21.5 - celsius) + rng.gauss(0, 0.05)
        pressure += 0.01 * (101_325.0 - pressure) + rng.gauss(0, 5.0)
        humidity = min(100.0, max(0.0, humidity + 0.02 * (45.0 - humidity) + rng.gauss(0, 0.2)))
        yield {
            "time": clock(),
            "device_id": device_id,
            "temperature_c": round(celsius, 3),
            "temperature_f": round(celsius * 9 / 5 + 32, 3),
            "pressure_pa": round(pressure, 1),
            "humidity_pct": round(humidity, 2),
            "status": _sensor_status(celsius, humidity, rng),
        }


def _sensor_status(celsius: float, humidity: float, rng: random.Random) -> str:
    if rng.random() < 0.001:
        return "error"
    if not 18.0 <= celsius <= 25.0 or humidity > 60.0:
        return "warning"
    return "ok"


GENERATORS: dict[str, Callable[[random.Random], Iterator[Record]]] = {
    "example": example_records,
    "temperature": temperature_records,
}
"""The demo channels by name."""


def demo_records(channel: str, seed: int | None = None) -> Iterator[Record]:
    """The endless record stream of demo channel ``channel`` (a key of :data:`GENERATORS`)."""
    try:
        make = GENERATORS[channel]
    except KeyError:
        raise ValueError(
            f"no demo signals for channel {channel!r} (demo channels: {', '.join(GENERATORS)})"
        ) from None
    return make(random.Random(seed))


class RecordSink(Protocol):
    """What the demo sends through: a :class:`speeddata.sender.Sender`."""

    def send_many(self, records: Iterable[Record]) -> Any: ...

    def flush(self) -> Any: ...

    def close(self) -> None: ...


@dataclass
class DemoFeed:
    """One channel being fed: its record stream and its sender."""

    channel: str
    records: Iterator[Record]
    sink: RecordSink


MAX_BURST = 1024
"""Most records per channel sent in one go (when catching up, or at full speed)."""


def send_demo(
    feeds: list[DemoFeed], rate: float, count: int, batch: int, stop: threading.Event
) -> int:
    """Sends records to every feed, ``rate`` per second each (0: as fast as possible), until
    ``count`` per feed were sent (0: no limit) or ``stop`` is set. ``batch`` records share a
    datagram (as many as fit). Returns the records sent per feed."""
    sent, start = 0, time.monotonic()
    while not stop.is_set() and (count == 0 or sent < count):
        due = MAX_BURST if rate == 0 else int((time.monotonic() - start) * rate) + 1 - sent
        n = min(due, MAX_BURST, count - sent if count else MAX_BURST)
        if n <= 0:
            stop.wait(min(0.05, (sent + 1) / rate - (time.monotonic() - start)))
            continue
        for feed in feeds:
            records = [next(feed.records) for _ in range(n)]
            for i in range(0, n, batch):
                feed.sink.send_many(records[i : i + batch])
                feed.sink.flush()
        sent += n
    return sent
