"""The gateway as channels change and clients lag, all real: a schema change (PATCH in the
registry) reaches an open client as an advertise and a new layout; a channel registered
while a client is connected is advertised, one removed unadvertised; a client that stops
reading does not delay another's frames, and is told what it lost."""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import pytest

from speeddata import Client, Sender
from speeddata.config import ROOT, load_settings
from tests.procs import Proc
from tests.stripcharttools import Collector, RawClient, gateway_url, open_ws, send, start_services
from tests.system import System, free_channel_ports, make_system
from tests.test_stripchart_live import example, subscribed, wait_advertised

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
V2 = copy.deepcopy(EXAMPLE)
V2["fields"].append({"name": "gain", "type": "double", "default": 1.0})


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(
        tmp_path,
        relay_binary,
        ingest={"registry_poll_s": 1.0},
        stripchart={"registry_poll_s": 1.0, "queue_rows": 2000},
    )


@pytest.fixture
def url(system: System, procs: list[Proc]) -> str:
    gateway = start_services(system, procs)
    return gateway_url(gateway.ready)


def client(system: System) -> Client:
    return Client(settings=load_settings(system.config, system.data_dir))


def test_channels_appear_change_and_go_on_an_open_client(system: System, url: str) -> None:
    with open_ws(url) as ws, client(system) as registry:
        c = Collector(ws)
        first = wait_advertised(c, "example")
        assert [s["name"] for s in first["signals"]][:3] == ["time", "message", "counter"]
        assert first["clock"] == "device" and first["time_field"] == "time"
        send(ws, type="subscribe", id=1, signals=["example.*", "example.gain"], width=0)
        layout = subscribed(c, 1)
        assert layout["missing"] == ["example.gain"]
        assert layout["blocks"][0]["signals"] == [
            "time", "counter", "sine_wave", "ramp", "square_wave", "noise"
        ]  # fmt: skip

        registry.update_channel("example", schema=V2)
        changed = c.until(
            lambda: [m for m in c.of_type("advertise") if m["channel"] == "example"
                     and m["fingerprint"] != first["fingerprint"]],
            what="the new schema advertised",
        )[-1]  # fmt: skip
        assert changed["signals"][-1]["name"] == "gain"
        assert changed["schema_version"] == 2
        relaid = c.until(
            lambda: [m for m in c.of_type("subscribed") if m["id"] == 1 and not m["missing"]],
            what="the subscription resolved again",
        )[-1]
        assert relaid["blocks"][0]["signals"][-1] == "gain"

        port = free_channel_ports(1)[0]
        registry.add_channel("probe", EXAMPLE, port=port, time_field="time")
        assert wait_advertised(c, "probe")["status"] in ("starting", "active")
        registry.remove_channel("probe")
        c.until(
            lambda: [m for m in c.of_type("unadvertise") if m["channel"] == "probe"],
            what="probe unadvertised",
        )


def test_a_client_that_stops_reading_delays_nobody(system: System, url: str) -> None:
    slow = RawClient(url)
    with open_ws(url) as fast_ws:
        fast = Collector(fast_ws)
        wait_advertised(fast, "example")
        for sub in range(1, 41):  # the slow one asks a lot, and then reads nothing
            slow.send(type="subscribe", id=sub, signals=["example.*"], width=0, history=False)
        send(fast_ws, type="subscribe", id=1, signals=["example.counter"], width=0, history=False)
        fast.until(lambda: 1 in fast.history_done, what="fast client's history")

        stop = threading.Event()
        sent_at: dict[int, float] = {}

        def feed() -> None:
            with Sender(EXAMPLE, "127.0.0.1", system.ports["example"]) as sender:
                i, t0 = 0, time.time_ns()
                while not stop.is_set():
                    sender.send_many([example(i + k, t0) for k in range(20)])
                    sent_at[i + 19] = time.monotonic()
                    i += 20
                    time.sleep(0.01)

        feeder = threading.Thread(target=feed)
        feeder.start()
        lags = []
        try:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                fast.pump()
                v = fast.columns(1)[1]
                if v.size and int(v[0, -1]) in sent_at:
                    lags.append(time.monotonic() - sent_at[int(v[0, -1])])
        finally:
            stop.set()
            feeder.join()
        assert lags and max(lags) < 2.0, f"the fast client waited: {max(lags):.2f} s"
        assert len(fast.columns(1)[0]) > 1000
    try:
        deadline = time.monotonic() + 60
        while True:  # the slow client reads again: it is told what it lost
            message = slow.message()
            if isinstance(message, dict) and message["type"] == "dropped":
                assert message["rows"] > 0 and message["total"] >= message["rows"]
                break
            assert time.monotonic() < deadline, "no drop notice"
    finally:
        slow.close()
