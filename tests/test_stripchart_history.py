"""History on subscribe and min/max reduction, all real: a window opened after a while is
filled from the gateway's memory (a small span here) and from the archive, with no row
missing and none twice at the seam; min/max per pixel column keeps a single-sample spike,
in history and live; reduction itself on made-up rows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import fastavro
import httpx
import numpy as np
import pytest

from bench.archivefiles import SCHEMA as ARCHIVE
from bench.archivefiles import write_archive_file
from services.stripchart.reduce import reduce
from speeddata import Client, Sender
from speeddata.config import ROOT, load_settings
from tests.procs import Proc
from tests.stripcharttools import Collector, gateway_url, open_ws, send, start_services
from tests.system import System, make_system
from tests.test_stripchart_live import example, subscribed, wait_advertised

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
WIDE = {**ARCHIVE, "fields": ARCHIVE["fields"][1:]}


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(
        tmp_path,
        relay_binary,
        ingest={"registry_poll_s": 1.0},
        stripchart={"registry_poll_s": 1.0, "memory_s": 1.0},
    )


@pytest.fixture
def gateway(system: System, procs: list[Proc]) -> Proc:
    return start_services(system, procs)


def feed(system: System, records: list[dict], per_10ms: int) -> None:
    with Sender(EXAMPLE, "127.0.0.1", system.ports["example"]) as sender:
        for i in range(0, len(records), per_10ms):
            sender.send_many(records[i : i + per_10ms])
            time.sleep(0.01)


def test_window_filled_from_archive_and_memory_without_gap_or_duplicate(
    system: System, gateway: Proc
) -> None:
    url = gateway_url(gateway.ready)
    with open_ws(url) as ws:
        wait_advertised(Collector(ws), "example")
    t0 = time.time_ns() - 8_000_000_000
    sent = [example(i, t0) for i in range(4000)]  # 8 s of device time, 2 ms apart
    for r in sent:
        r["time"] = t0 + (r["time"] - t0) * 2
    feed(system, sent, 10)  # ~4 s of sending: memory (1 s) holds the newest part only
    time.sleep(0.5)
    with open_ws(url) as ws:
        c = Collector(ws)
        wait_advertised(c, "example")
        send(ws, type="subscribe", id=7, signals=["example.counter", "example.ramp"],
             window=60, width=0)  # fmt: skip
        subscribed(c, 7)
        c.until(lambda: 7 in c.history_done, what="the history")
        t, v = c.columns(7)
    assert len(t) == len(sent), f"{len(t)} rows of {len(sent)}"
    assert t.tolist() == [r["time"] for r in sent]
    assert v[0].tolist() == [float(r["counter"]) for r in sent]
    assert v[1].tolist() == [r["ramp"] for r in sent]
    health = httpx.get(url.replace("ws://", "http://").replace("/ws", "/health")).json()
    assert health["archive_rows"] > 0, health  # the older part came from the archive


def test_min_max_per_pixel_keeps_a_single_sample_spike(system: System, gateway: Proc) -> None:
    url = gateway_url(gateway.ready)
    t0 = time.time_ns()
    sent = [example(i, t0) for i in range(2000)]  # 1 ms apart
    for r in sent:
        r["ramp"] = 0.0
    sent[777]["ramp"] = 100.0
    sent[1333]["ramp"] = -50.0
    with open_ws(url) as ws:
        c = Collector(ws)
        wait_advertised(c, "example")
        send(ws, type="subscribe", id=1, signals=["example.ramp"], window=10, width=100)
        assert subscribed(c, 1)["bucket_ns"] == "100000000"
        c.until(lambda: 1 in c.history_done, what="history")
        time.sleep(0.3)
        feed(system, sent, 20)
        # live: reduced rows; the spike's column ends once a later column begins
        c.until(lambda: len(c.columns(1)[0]) and c.columns(1)[1].max() == 100.0
                and c.columns(1)[1].min() == -50.0, what="the spike and the dip live")  # fmt: skip
        live_t, live_v = c.columns(1)
        assert len(live_t) < 200 and any(b.reduced for f in c.frames for b in f.blocks)

        send(ws, type="subscribe", id=2, signals=["example.ramp"], window=10, width=100)
        c.until(lambda: 2 in c.history_done, what="history")
        t, v = c.columns(2)
    assert v.max() == 100.0 and v.min() == -50.0
    assert len(t) <= 2 * 101
    assert set(v[0].tolist()) == {0.0, 100.0, -50.0}


def test_reduce_runs() -> None:
    t = np.array([0, 1, 2, 3, 10, 11, 20, 30, 31, 32, 33], np.int64)
    v = np.array([[5, 1, 9, 3, 7, 8, 4, 2, np.nan, 6, 0]], np.float64)
    rt, rv, reduced = reduce(t, v, 10)
    assert reduced
    assert rt.tolist() == [0, 3, 10, 11, 20, 30, 33]
    assert rv[0].tolist() == [1, 9, 7, 8, 4, 0, 6]
    same_t, same_v, no = reduce(t[:2], v[:, :2], 10)
    assert not no and same_t.tolist() == [0, 1]
    raw_t, _, off = reduce(t, v, 0)
    assert not off and raw_t is t
    back = np.array([100, 101, 102, 5, 6, 7], np.int64)  # a clock step back: runs, not groups
    bt, bv, _ = reduce(back, np.arange(6.0)[None, :], 10)
    assert bt.tolist() == [100, 102, 5, 7]


def test_a_wide_window_from_file_summaries_keeps_spikes(
    system: System, gateway: Proc, procs: list[Proc]
) -> None:
    """An hour on 1000 px: closed files come from their per-second summaries, the newest
    (being written) row by row; a one-sample spike in a summarized file survives."""
    now = time.time_ns()
    paths = []
    for i in range(6):  # 6 files of 10 minutes at 10 Hz, the last hour
        first = now - 3600 * 10**9 + i * 600 * 10**9
        rx_times = range(first, first + 600 * 10**9, 10**8)
        paths.append(write_archive_file(system.data_dir, "wide", i, rx_times))
    spike_file = paths[2]  # one record of it made a spike, the file rewritten as it was
    with open(spike_file, "rb") as f:
        reader = fastavro.reader(f)
        meta = {k: v for k, v in reader.metadata.items() if k.startswith("speeddata.")}
        records: list[dict] = list(reader)  # type: ignore[arg-type]
    records[1234]["value"] = 1e6
    stat = spike_file.stat()
    with open(spike_file, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(ARCHIVE), records, metadata=meta)
    os.utime(spike_file, ns=(stat.st_mtime_ns, stat.st_mtime_ns))
    with Client(settings=load_settings(system.config, system.data_dir)) as registry:
        registry.add_channel("wide", WIDE, time_field="time")
    url = gateway_url(gateway.ready)
    with open_ws(url) as ws:
        c = Collector(ws)
        wait_advertised(c, "wide")
        send(ws, type="subscribe", id=3, signals=["wide.value"], window=3600, width=1000)
        c.until(lambda: 3 in c.history_done, what="history", timeout=60)
        t, v = c.columns(3)
    assert 1e6 in v[0].tolist()
    assert len(t) <= 2 * 1001 and (np.diff(t) >= 0).all()
    assert t[0] >= now - 3600 * 10**9 - 10**9
