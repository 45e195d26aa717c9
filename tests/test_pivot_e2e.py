"""The pivot end to end, all real (bus, registry, ingest, relays, the pivot process): records sent
by a device come back exactly from an export over REST, ``sdctl export`` and
``Client.export``, read with ``read_hdf5`` and with plain h5py; CSV and Parquet read back with
pyarrow; a range cutting through files across rotations, on the device clock and on
``rx_time``, two channels at different rates, a range ending a second ago, a schema change."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from speeddata.archive import archive_files
from speeddata.config import ROOT
from speeddata.dataset import read_hdf5
from speeddata.demo import demo_records
from speeddata.timespec import format_ns
from tests.metricstools import assert_listed, value
from tests.pivottools import EVERY, STEP_US, T0_US, Live, every_record, start_live, wait_relay
from tests.procs import wait_until
from tests.system import PY, relay_pids

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
TEMPERATURE = json.loads((ROOT / "config" / "agents" / "temperature.avsc").read_text())
N_EVERY = 300
FIRST, LAST = 45, 255
"""The device-time range asked of ``every``: records FIRST..LAST-1."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Live]:
    started = start_live(tmp_path_factory.mktemp("pivot"), relay_binary)
    live = next(started)
    try:
        live.client().add_channel("every", EVERY, time_field="t")
        wait_relay(live, "every")
        live.send("every", EVERY, [every_record(i) for i in range(N_EVERY)])
        wait_relay(live, "example")
        t0 = time.time_ns()
        fast = [
            {**r, "time": t0 + k * 2_000_000}
            for k, r in zip(range(400), demo_records("example", seed=3), strict=False)
        ]
        live.send("example", EXAMPLE, fast)
        slow = [
            {**r, "time": t0 + k * 40_000_000}
            for k, r in zip(range(20), demo_records("temperature", seed=4), strict=False)
        ]
        live.send("temperature", TEMPERATURE, slow, batch=1)
        yield live
    finally:
        started.close()


def every_range() -> dict[str, str]:
    start = (T0_US + FIRST * STEP_US) * 1000
    end = (T0_US + LAST * STEP_US) * 1000
    return {"start": format_ns(start), "end": format_ns(end)}


def get(live: Live, **params: str) -> httpx.Response:
    """The export's answer; a 5xx fails the test with the pivot's last lines."""
    r = httpx.get(f"{live.pivot}/api/v1/pivot/export", params=params, timeout=60)
    assert r.status_code < 500, r.text + "\n" + "\n".join(live.procs[-1].lines[-40:])
    return r


def sdctl(live: Live, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**live.system.env, "SPEEDDATA_PIVOT_URL": live.pivot}
    return subprocess.run(
        [PY, "-m", "speeddata", *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


# -- what the values should be ---------------------------------------------------------------


def assert_every(values: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """``values``: signal -> array as exported (h5py or a Set); equal to the records sent."""

    def col(name: str) -> list[Any]:
        return [r[name] for r in records]

    for name in ("t", "i", "l", "f", "d", "b"):
        np.testing.assert_array_equal(np.asarray(values[name]), np.array(col(name)), err_msg=name)
    assert [_text(v) for v in values["s"]] == col("s")
    symbols = ["red", "green", "blue"]
    assert [symbols[int(v)] if not isinstance(v, str) else v for v in values["e"]] == col("e")
    assert [bytes(v) for v in values["by"]] == col("by")
    assert [bytes(v) for v in values["fx"]] == col("fx")
    valid = np.asarray(values["n.valid"], bool)
    assert valid.tolist() == [r["n"] is not None for r in records]
    np.testing.assert_array_equal(
        np.asarray(values["n"])[valid], [v for v in col("n") if v is not None]
    )
    assert np.asarray(values["r.x"]).tolist() == [r["r"]["x"] for r in records]
    assert [_text(v) for v in values["r.y"]] == [r["r"]["y"] for r in records]
    assert [list(np.asarray(v)) for v in values["a"]] == col("a")


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def h5_values(path: Path, channel: str) -> dict[str, Any]:
    with h5py.File(path) as f:
        group = f[channel]
        return {name: _h5(group[name]) for name in group}


def _h5(dataset: h5py.Dataset) -> Any:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return dataset.asstr()[()]
    return dataset[()]


def set_values(path: Path, channel: str) -> dict[str, Any]:
    return signals_of(read_hdf5(path).channel[channel])


def signals_of(ch: Any) -> dict[str, Any]:
    """A Set channel's signals by name, and ``x.valid`` for each nullable ``x``."""
    out = {}
    for name, signal in ch.signal.items():
        out[name] = signal
        if signal.valid is not None:
            out[name + ".valid"] = signal.valid
    return out


# -- tests -----------------------------------------------------------------------------------


def test_every_type_over_rest_cli_and_client(live: Live, tmp_path: Path) -> None:
    want = live.sent["every"][FIRST:LAST]
    r = get(live, channels="every", **every_range())
    assert r.status_code == 200, r.text
    assert r.headers["X-SpeedData-Records"] == str(LAST - FIRST)
    assert r.headers["X-SpeedData-Channel-Records"] == f"every={LAST - FIRST}"
    rest = tmp_path / "rest.h5"
    rest.write_bytes(r.content)
    assert_every(h5_values(rest, "every"), want)
    assert_every(set_values(rest, "every"), want)

    cli = tmp_path / "cli.h5"
    rng = every_range()
    done = sdctl(live, "export", "--start", rng["start"], "--end", rng["end"],
                 "--channels", "every", "-o", str(cli))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{LAST - FIRST} records" in done.stderr
    assert_every(set_values(cli, "every"), want)

    duration = f"PT{(LAST - FIRST) * STEP_US / 1e6}S"
    s = live.client().export(rng["start"], "every", duration=duration)
    assert_every(signals_of(s.channel["every"]), want)


def test_hdf5_attributes_describe_the_export(live: Live, tmp_path: Path) -> None:
    r = get(live, channels="every", **every_range())
    path = tmp_path / "x.h5"
    path.write_bytes(r.content)
    with h5py.File(path) as f:
        group = f["every"]
        attrs = dict(group.attrs)
        assert attrs["time_field"] == "t" and attrs["time_unit"] == "us"
        schema = json.loads(attrs["schema"])
        assert [x["name"] for x in schema["fields"]][:2] == ["rx_time", "t"]
        files = list(group.attrs["files"])
        assert len(files) >= 2, "the range runs across a rotation"
        assert group["rx_time"].dtype == np.int64
        assert group["d"].attrs["units"] == "V"
    all_files = [p.name for p in archive_files(live.system.data_dir, "every")]
    named = [Path(str(f)).name for f in files]
    assert set(named) <= set(all_files) and len(named) < len(all_files), "cut through files"


def test_two_rates_on_the_rx_clock(live: Live, tmp_path: Path) -> None:
    archived = {c: live.archived(c) for c in ("example", "temperature")}
    rx = sorted(r["rx_time"] for rows in archived.values() for r in rows)
    start, end = rx[len(rx) // 4], rx[3 * len(rx) // 4]
    r = get(
        live, channels="example,temperature", start=format_ns(start), end=format_ns(end), time="rx"
    )
    assert r.status_code == 200, r.text
    path = tmp_path / "two.h5"
    path.write_bytes(r.content)
    s = read_hdf5(path)
    for channel, rows in archived.items():
        inside = [row for row in rows if start <= row["rx_time"] < end]
        got = h5_values(path, channel)
        assert got["rx_time"].tolist() == [row["rx_time"] for row in inside]
        assert got["time"].tolist() == [row["time"] for row in inside]
        assert len(s.channel[channel].time) == len(inside)
    assert len(h5_values(path, "example")["rx_time"]) > 2 * len(
        h5_values(path, "temperature")["rx_time"]
    )


def test_csv_and_parquet_read_back_to_the_same_values(live: Live) -> None:
    want = live.sent["every"][FIRST:LAST]
    parquet = get(live, channels="every", format="parquet", **every_range())
    assert parquet.status_code == 200, parquet.text
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("t").to_pylist() == [r["t"] for r in want]
    assert table.column("s").to_pylist() == [r["s"] for r in want]
    assert table.column("e").to_pylist() == [r["e"] for r in want]
    assert table.column("n").to_pylist() == [r["n"] for r in want]
    assert table.column("by").to_pylist() == [r["by"] for r in want]
    assert table.column("d").to_pylist() == [r["d"] for r in want]
    assert table.column("fx").to_pylist() == [r["fx"] for r in want]
    assert table.column("a").to_pylist() == [r["a"] for r in want]
    assert [dict(m) for m in table.column("m").to_pylist()] == [r["m"] for r in want]
    assert table.column("r.y").to_pylist() == [r["r"]["y"] for r in want]
    assert table.schema.metadata[b"speeddata.channel"] == b"every"

    csv = get(live, channels="every", format="csv", **every_range())
    assert csv.status_code == 200, csv.text
    assert csv.headers["content-disposition"].startswith('attachment; filename="every-2026')
    rows = pa_csv.read_csv(io.BytesIO(csv.content)).to_pylist()
    assert [row["i"] for row in rows] == [r["i"] for r in want]
    assert [row["d"] for row in rows] == [r["d"] for r in want]
    assert [row["e"] for row in rows] == [r["e"] for r in want]
    assert [json.loads(row["m"]) for row in rows] == [r["m"] for r in want]
    assert [row["fx"] for row in rows] == [r["fx"].hex() for r in want]

    both = get(
        live, channels="every,example", format="csv", start="now-1d", end="now+1d", time="rx"
    )
    assert both.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(both.content)) as z:
        assert sorted(z.namelist()) == ["every.csv", "example.csv"]
        example = pa_csv.read_csv(io.BytesIO(z.read("example.csv")))
    assert example.column("counter").to_pylist() == [r["counter"] for r in live.sent["example"]]
    assert example.column("sine_wave").to_pylist() == [r["sine_wave"] for r in live.sent["example"]]


def test_a_range_ending_a_second_ago_has_the_data_flushed_before(
    live: Live, tmp_path: Path
) -> None:
    records = [
        {**r, "time": time.time_ns()}
        for _, r in zip(range(30), demo_records("example", seed=9), strict=False)
    ]
    live.send("example", EXAMPLE, records)
    time.sleep(1.2)
    newest = archive_files(live.system.data_dir, "example")[-1]
    with open(newest, "rb") as f, pytest.raises(BlockingIOError):
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the relay still writes it
    path = tmp_path / "recent.h5"
    done = sdctl(live, "export", "--start", "now-1m", "--end", "now-1s", "--time", "rx",
                 "--channels", "example", "-o", str(path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    counters = h5_values(path, "example")["counter"].tolist()
    assert counters[-30:] == [r["counter"] for r in records]


def test_a_range_across_a_schema_change(live: Live, tmp_path: Path) -> None:
    v1 = {
        "type": "record",
        "name": "evolving",
        "fields": [
            {"name": "t", "type": "long"},
            {"name": "a", "type": "double"},
            {"name": "b", "type": "string"},
        ],
    }
    v2 = {"type": "record", "name": "evolving", "fields": [
        {"name": "t", "type": "long"}, {"name": "a", "type": "double"},
        {"name": "c", "type": "int", "default": 7}]}  # fmt: skip
    client = live.client()
    client.add_channel("evolving", v1, time_field="t", time_unit="ns")
    wait_relay(live, "evolving")
    first = [{"t": 1_000 + k, "a": k * 1.5, "b": f"b{k}"} for k in range(20)]
    live.send("evolving", v1, first)
    old = relay_pids(live.system.data_dir, "evolving")
    client.update_channel("evolving", schema=v2)
    port = client.channel("evolving")["port"]

    def restarted() -> bool:
        pids = relay_pids(live.system.data_dir, "evolving")
        return len(pids) == 1 and pids != old

    wait_until(restarted, timeout=20, what="ingest to restart the relay with the new version")
    second = [{"t": 2_000 + k, "a": -k * 1.0, "c": k} for k in range(20)]
    _send_after_restart(live, v2, port, second)

    r = get(live, channels="evolving", start=format_ns(0), end=format_ns(10_000))
    assert r.status_code == 200, r.text
    path = tmp_path / "evolving.h5"
    path.write_bytes(r.content)
    got = h5_values(path, "evolving")
    assert got["t"].tolist() == [x["t"] for x in first + second]
    assert got["a"].tolist() == [x["a"] for x in first + second]
    assert got["c"].tolist() == [7] * 20 + list(range(20))
    assert got["b.valid"].tolist() == [True] * 20 + [False] * 20
    assert list(got["b"][:20]) == [x["b"] for x in first]
    removed = get(live, channels="evolving", signals="evolving.b", format="csv",
                  start=format_ns(0), end=format_ns(10_000))  # fmt: skip
    assert removed.status_code == 200, removed.text  # a field of the older version, by name
    table = pa_csv.read_csv(io.BytesIO(removed.content))
    assert table.column_names == ["rx_time", "t", "b"]
    assert table.column("b").to_pylist()[:20] == [x["b"] for x in first]


def _send_after_restart(live: Live, schema: dict, port: int, records: list[dict]) -> None:
    """The first record again each second until the new relay archived it, then the rest."""
    from speeddata import Sender

    before = len(live.archived("evolving"))
    with Sender(schema, "127.0.0.1", port) as sender:
        for _ in range(20):
            sender.send(records[0])
            try:
                wait_until(lambda: len(live.archived("evolving")) > before, timeout=1)
                break
            except AssertionError:
                continue
    live.send("evolving", schema, records[1:])


def test_the_pivot_leaves_nothing_behind(live: Live) -> None:
    scratch = Path(live.system.env["TMPDIR"])
    pid = live.procs[-1].pid
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    before = sorted(p for p in live.system.data_dir.rglob("*") if "archive" not in p.parts)
    for fmt in ("hdf5", "csv", "parquet"):
        for channels in ("every", "every,example"):
            r = get(live, channels=channels, format=fmt, start="now-1d", end="now+1d", time="rx")
            assert r.status_code == 200
    for _ in range(3):  # clients that go away mid-download
        with httpx.stream("GET", f"{live.pivot}/api/v1/pivot/export",
                          params={"channels": "every,example,temperature", "start": "now-1d",
                                  "end": "now+1d", "time": "rx"}) as r:  # fmt: skip
            next(r.iter_raw(1024))
    assert get(live, channels="every", start="now-1d", end="now+1d", time="rx").status_code == 200
    wait_until(lambda: list(scratch.iterdir()) == [], what="an empty temp dir")
    after = sorted(p for p in live.system.data_dir.rglob("*") if "archive" not in p.parts)
    assert after == before
    wait_until(lambda: len(os.listdir(f"/proc/{pid}/fd")) <= fds, what="no more open files")


def test_health_and_metrics(live: Live) -> None:
    health = httpx.get(f"{live.pivot}/api/v1/health").json()
    assert health["status"] == "ok" and health["service"] == "pivot"
    assert get(live, channels="every", format="parquet", **every_range()).status_code == 200
    text = httpx.get(f"{live.pivot}/metrics").text
    assert_listed(text, "pivot")
    assert (value(text, "speeddata_pivot_exports_total", format="parquet") or 0) >= 1
    assert (value(text, "speeddata_pivot_records_total") or 0) >= LAST - FIRST
    assert (value(text, "speeddata_pivot_sent_bytes_total") or 0) > 0
    route = "/api/v1/pivot/export"
    assert value(text, "speeddata_http_requests_total", service="pivot", method="GET",
                 route=route, status="200")  # fmt: skip


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--channels", "nope"], "sdctl: error: pivot: unknown channel 'nope'"),
        (["--channels", "every", "--signals", "every.zz"],
         "sdctl: error: pivot: channel 'every' has no signal 'zz'"),
        (["--channels", "every", "--start", "yesterday"], "sdctl: error: bad time 'yesterday'"),
        (["--channels", "every", "--end", "now"], "sdctl: error: give exactly one of --duration"),
        (["--channels", "every", "--format", "xls"], "sdctl: error: --format must be one of"),
        (["--channels", "every", "--url", "http://127.0.0.1:9"],
         "sdctl: error: cannot reach the pivot at http://127.0.0.1:9/api/v1"),
    ],
)  # fmt: skip
def test_sdctl_export_errors_are_one_line(live: Live, args: list[str], line: str) -> None:
    base = ["export", "--start", "now-1m", "--duration", "1m"]
    if "--start" in args:
        base = ["export", "--duration", "1m"]
    done = sdctl(live, *base, *args)
    assert done.returncode != 0
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(line), done.stderr


def test_sdctl_export_to_stdout_and_to_the_suggested_name(live: Live, tmp_path: Path) -> None:
    done = sdctl(live, "export", "--start", "now-1d", "--end", "now+1d", "--time", "rx",
                 "--channels", "temperature", "--format", "csv", "-o", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = pa_csv.read_csv(io.BytesIO(done.stdout.encode())).to_pylist()
    assert [r["device_id"] for r in rows] == [r["device_id"] for r in live.sent["temperature"]]
    everything = ["export", "--start", "now-1d", "--end", "now+1d", "--time", "rx"]
    done = sdctl(live, *everything, "-c", "temperature,example", "-f", "parquet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (saved,) = tmp_path.iterdir()
    assert saved.name.startswith("speeddata-") and saved.suffix == ".zip"
    with zipfile.ZipFile(saved) as z:
        assert sorted(z.namelist()) == ["example.parquet", "temperature.parquet"]


def test_sdctl_export_shows_progress_on_a_terminal(live: Live, tmp_path: Path) -> None:
    """On a terminal (a pty here) stderr shows the bytes received; the file is whole."""
    out = tmp_path / "tty.h5"
    primary, secondary = pty.openpty()
    env = {**live.system.env, "SPEEDDATA_PIVOT_URL": live.pivot, "COLUMNS": "100"}
    args = ["export", "--start", "now-1d", "--end", "now+1d", "--time", "rx", "-c",
            "every,example,temperature", "-o", str(out)]  # fmt: skip
    with subprocess.Popen([PY, "-m", "speeddata", *args], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=secondary) as proc:  # fmt: skip
        os.close(secondary)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the child closed its end
            while chunk := os.read(primary, 4096):
                seen += chunk
        assert proc.wait(60) == 0, seen
    os.close(primary)
    text = seen.decode(errors="replace")
    assert "export \x1b" in text and "━" in text and "bytes" in text, text  # rich's bar
    assert f"{out}: " in text and "records" in text
    with h5py.File(out) as f:
        assert set(f) == {"every", "example", "temperature"}
