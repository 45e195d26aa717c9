"""The gateway end to end, all real (bus, registry, ingest, relays, a Sender, the gateway):
a client gets exactly the values sent with their own timestamps; two channels of different
schemas decode side by side; a schema change reaches an open client as an advertise; a client
that stops reading does not delay another and is told its drops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from speeddata import Sender
from speeddata.config import ROOT
from tests.procs import Proc
from tests.stripcharttools import Collector, gateway_url, open_ws, send, start_services
from tests.system import System, make_system

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
TEMPERATURE = json.loads((ROOT / "config" / "agents" / "temperature.avsc").read_text())


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(
        tmp_path,
        relay_binary,
        ingest={"registry_poll_s": 1.0},
        stripchart={"registry_poll_s": 1.0, "queue_rows": 5000},
    )


@pytest.fixture
def url(system: System, procs: list[Proc]) -> str:
    gateway = start_services(system, procs)
    return gateway_url(gateway.ready)


def example(i: int, t0: int) -> dict:
    return {
        "time": t0 + i * 1_000_000,
        "message": f"m{i}",
        "counter": i,
        "sine_wave": float(np.sin(i / 7)),
        "ramp": i * 0.5,
        "square_wave": 1.0 if i % 20 < 10 else -1.0,
        "noise": (i * 7919 % 1000) / 1000 - 0.5,
    }


def temperature(i: int, t0: int) -> dict:
    return {
        "time": t0 + i * 2_000_000,
        "device_id": "d1",
        "temperature_c": 20 + i / 100,
        "temperature_f": 68 + i / 50,
        "pressure_pa": 101325.0 - i,
        "humidity_pct": 40.0 + (i % 7),
        "status": "ok",
    }


def subscribed(c: Collector, sub: int) -> dict:
    return c.until(
        lambda: [m for m in c.of_type("subscribed") if m["id"] == sub], what="subscribed"
    )[-1]


def wait_advertised(c: Collector, channel: str) -> dict:
    return c.until(
        lambda: [m for m in c.of_type("advertise") if m["channel"] == channel],
        what=f"advertise of {channel}",
    )[-1]


def test_exact_values_with_their_timestamps(system: System, url: str) -> None:
    exact_values(system, url)


def test_exact_values_from_the_decimated_multicast_group(
    tmp_path: Path, relay_binary: Path, procs: list[Proc]
) -> None:
    system = make_system(
        tmp_path, relay_binary, stripchart={"registry_poll_s": 1.0, "source": "multicast"}
    )
    gateway = start_services(system, procs)
    exact_values(system, gateway_url(gateway.ready))


def exact_values(system: System, url: str) -> None:
    """A client subscribed without reduction gets exactly the values sent, with their own
    timestamps, in order; the newest text value; latest values on a new subscription."""
    with open_ws(url) as ws:
        c = Collector(ws)
        wait_advertised(c, "example")
        signals = ["example.counter", "example.sine_wave", "example.ramp", "example.message"]
        send(ws, type="subscribe", id=1, signals=signals, width=0, history=False)
        layout = subscribed(c, 1)
        assert layout["blocks"] == [
            {"channel": "example", "clock": "device", "signals": ["counter", "sine_wave", "ramp"]}
        ]
        assert layout["text"] == [{"channel": "example", "signals": ["message"]}]
        assert layout["bucket_ns"] == "0" and layout["missing"] == []
        c.until(lambda: 1 in c.history_done, what="end of history")
        time.sleep(0.5)  # the subscription is live: rows from now on
        t0 = time.time_ns()
        sent = [example(i, t0) for i in range(300)]
        with Sender(EXAMPLE, "127.0.0.1", system.ports["example"]) as sender:
            for chunk in range(0, 300, 30):
                sender.send_many(sent[chunk : chunk + 30])
                time.sleep(0.01)
        c.until(lambda: len(c.columns(1)[0]) >= 300, what="300 rows")
        t, v = c.columns(1)
        assert t.tolist() == [r["time"] for r in sent]
        assert v[0].tolist() == [float(r["counter"]) for r in sent]
        assert v[1].tolist() == [r["sine_wave"] for r in sent]
        assert v[2].tolist() == [r["ramp"] for r in sent]
        last = [b.last for f in c.frames for b in f.blocks if b.last is not None][-1]
        assert last[0] == sent[-1]["time"] and last[1].tolist() == [
            299.0,
            sent[-1]["sine_wave"],
            149.5,
        ]
        texts = c.until(
            lambda: [m for m in c.of_type("text") if "example.message" in m["values"]
                     and m["values"]["example.message"]["v"] == "m299"],
            what="the newest message",
        )  # fmt: skip
        assert texts[-1]["values"]["example.message"]["t"] == sent[-1]["time"] / 1e6

        send(ws, type="subscribe", id=2, signals=["example.counter", "example.nosuch"], width=0)
        assert subscribed(c, 2)["missing"] == ["example.nosuch"]
        latest = c.until(lambda: [m for m in c.of_type("latest") if m["id"] == 2], what="latest")
        assert latest[0]["values"]["example.counter"] == {"t": sent[-1]["time"] / 1e6, "v": 299.0}


def test_two_schemas_side_by_side(system: System, url: str) -> None:
    with open_ws(url) as ws:
        c = Collector(ws)
        wait_advertised(c, "temperature")
        wait_advertised(c, "example")
        signals = ["temperature.pressure_pa", "example.ramp", "temperature.temperature_c"]
        send(ws, type="subscribe", id=1, width=0, history=False, signals=signals)
        assert subscribed(c, 1)["blocks"] == [
            {
                "channel": "temperature",
                "clock": "device",
                "signals": ["pressure_pa", "temperature_c"],
            },
            {"channel": "example", "clock": "device", "signals": ["ramp"]},
        ]
        c.until(lambda: 1 in c.history_done, what="end of history")
        time.sleep(0.5)
        t0 = time.time_ns()
        ex = [example(i, t0) for i in range(100)]
        te = [temperature(i, t0) for i in range(100)]
        with (
            Sender(EXAMPLE, "127.0.0.1", system.ports["example"]) as a,
            Sender(TEMPERATURE, "127.0.0.1", system.ports["temperature"]) as b,
        ):
            for i in range(0, 100, 10):
                a.send_many(ex[i : i + 10])
                b.send_many(te[i : i + 10])
                time.sleep(0.01)
        c.until(lambda: len(c.columns(1, 0)[0]) >= 100 and len(c.columns(1, 1)[0]) >= 100,
                what="both channels")  # fmt: skip
        t, v = c.columns(1, 0)
        assert t.tolist() == [r["time"] for r in te]
        assert v.tolist() == [[r["pressure_pa"] for r in te], [r["temperature_c"] for r in te]]
        t, v = c.columns(1, 1)
        assert t.tolist() == [r["time"] for r in ex]
        assert v.tolist() == [[r["ramp"] for r in ex]]
