"""The demo signals of the original SpeedData, and the demo sender's pacing and batching."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from speeddata.config import ROOT
from speeddata.demo import WORDS, DemoFeed, demo_records, send_demo
from speeddata.schema import load_schema


def _take(channel: str, n: int) -> list[dict]:
    return list(itertools.islice(demo_records(channel, seed=1), n))


@pytest.mark.parametrize("channel", ["example", "temperature"])
def test_records_fit_the_channel_schema(channel: str) -> None:
    schema = parse_schema(load_schema(ROOT / "config" / "agents" / f"{channel}.avsc"))
    for record in _take(channel, 500):
        validate(record, schema, raise_errors=True)


def test_example_signals_have_the_original_shapes() -> None:
    records = _take("example", 81)
    assert [r["counter"] for r in records] == list(range(81))
    sine = [r["sine_wave"] for r in records]
    assert sine[0] == 0 and sine[5] == pytest.approx(1) and sine[20] == pytest.approx(0, abs=1e-9)
    assert all(sine[i] == pytest.approx(sine[i + 20]) for i in range(60))
    ramp = [r["ramp"] for r in records]
    assert ramp[0] == -1 and ramp[39] == pytest.approx(1) and ramp[40] == -1
    assert all(ramp[i] < ramp[i + 1] for i in range(39))
    square = [r["square_wave"] for r in records]
    assert square[:20] == [1.0] * 10 + [-1.0] * 10 and square[20:40] == square[:20]
    assert all(-0.5 <= r["noise"] <= 0.5 for r in records)
    assert len({r["noise"] for r in records}) > 70
    assert all(r["message"] in WORDS for r in records)
    assert abs(records[0]["time"] - time.time_ns()) < 60 * 10**9


def test_temperature_drifts_slowly_with_a_status() -> None:
    records = _take("temperature", 2000)
    celsius = [r["temperature_c"] for r in records]
    assert max(abs(a - b) for a, b in itertools.pairwise(celsius)) < 0.5
    assert min(celsius) > 10 and max(celsius) < 35
    for r in records:
        assert r["temperature_f"] == pytest.approx(r["temperature_c"] * 9 / 5 + 32, abs=0.01)
        assert 90_000 < r["pressure_pa"] < 110_000 and 0 <= r["humidity_pct"] <= 100
        assert r["status"] in ("ok", "warning", "error") and r["device_id"]
    assert "ok" in {r["status"] for r in records}


def test_unknown_demo_channel_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no demo signals for channel 'other'"):
        demo_records("other")


class _Sink:
    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.flushes = 0

    def send_many(self, records: Iterable[dict]) -> int:
        self.batches.append(list(records))
        return 1

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def close(self) -> None:
        pass


def test_send_demo_sends_count_records_per_channel_in_batches() -> None:
    sinks = [_Sink(), _Sink()]
    names = ["example", "temperature"]
    feeds = [DemoFeed(n, demo_records(n, seed=2), s) for n, s in zip(names, sinks, strict=True)]
    assert send_demo(feeds, rate=0, count=7, batch=3, stop=threading.Event()) == 7
    for sink in sinks:
        assert [len(b) for b in sink.batches] == [3, 3, 1]
    assert [r["counter"] for b in sinks[0].batches for r in b] == list(range(7))


def test_send_demo_paces_and_stops_when_told() -> None:
    sink, stop = _Sink(), threading.Event()
    feeds = [DemoFeed("example", demo_records("example"), sink)]
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    sent = send_demo(feeds, rate=10, count=0, batch=1, stop=stop)
    timer.join()
    assert 1 <= sent < 100  # paced, not as fast as possible, and it returned when stopped
    assert all(len(b) == 1 for b in sink.batches)
