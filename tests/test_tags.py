"""Tags in the real pivot (``python -m services.pivot``) with the janitor: a pending tag's pin
keeps its range's archive files through a janitor pass with a 1-second TTL; once exported the
tag file reads back with ``read_hdf5`` with exactly the records of the range, and the janitor
then deletes those archive files too. Kill -9 of the pivot during a tag's export: after a
restart the tag completes, and no half file ever has the tag's name. The API's answers to bad
requests, ``sdctl tag`` and ``Client.tag``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench.archivefiles import write_archive_file
from services.janitor.retention import Janitor
from speeddata import Client, read_hdf5
from speeddata.config import ROOT, load_settings
from speeddata.pins import tags_dir
from speeddata.timespec import format_ns
from tests.procs import Proc, wait_until
from tests.relaytools import probe_datagrams, start_relay
from tests.system import PY, System, make_system

S = 1_000_000_000
MS = 1_000_000
DEVICE_OFFSET = -3600 * S  # the device clock runs an hour behind rx_time


@pytest.fixture
def stalled_registry() -> Iterator[int]:
    """A port that takes connections and never answers: the pivot waits its
    registry_timeout_s on every channel lookup (a registry that hangs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


def start_pivot(system: System, procs: list, **env: str) -> tuple[Proc, str]:
    proc = Proc([PY, "-m", "services.pivot"], {**system.env, **env}, ROOT)
    procs.append(proc)
    ready = proc.wait_ready(30)
    return proc, f"http://{ready['http']}"


def make_channel(data: Path, files: int, per_file: int, period_ns: int, ago_s: float) -> list[int]:
    """Archive files of channel ``alpha`` ending ``ago_s`` seconds ago, one record each
    ``period_ns``; returns the rx_times of every record."""
    count = files * per_file
    first = time.time_ns() - int(ago_s * S) - count * period_ns
    times = [first + i * period_ns for i in range(count)]
    for seq in range(files):
        chunk = times[seq * per_file : (seq + 1) * per_file]
        write_archive_file(data, "alpha", seq, chunk, device_offset_ns=DEVICE_OFFSET)
    return times


def janitor_pass(system: System, ttl_s: float) -> list[str]:
    settings = load_settings(system.config, system.data_dir).override(
        janitor={"ttl_s": ttl_s, "quota_bytes": 0, "min_free_bytes": 0}
    )
    return [e.path.name for e in Janitor(settings, lambda t, f: None).run_pass()]


def archive_names(system: System) -> list[str]:
    return sorted(p.name for p in (system.data_dir / "archive" / "alpha").iterdir())


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path, stalled_registry: int) -> System:
    return make_system(
        tmp_path,
        relay_binary,
        registry={"port": stalled_registry},
        pivot={"port": 0, "registry_timeout_s": 2.0},
    )


def test_a_pending_tag_survives_a_janitor_pass_and_then_reads_back_exactly(
    system: System, procs: list
) -> None:
    times = make_channel(system.data_dir, files=6, per_file=1000, period_ns=MS, ago_s=5)
    files = archive_names(system)
    pivot, url = start_pivot(system, procs)
    # the range: the second half of file 2 and the first half of file 3, on the device clock
    start, end = times[2500] + DEVICE_OFFSET, times[3500] + DEVICE_OFFSET
    body = {"name": "keep-me", "start": format_ns(start), "end": format_ns(end),
            "channels": ["alpha"], "note": "the interesting second"}  # fmt: skip
    answer = httpx.post(f"{url}/api/v1/tags", json=body, timeout=30)
    os.kill(pivot.pid, signal.SIGSTOP)  # its export waits on the registry: still pending
    try:
        assert answer.status_code == 202, answer.text
        assert answer.json()["state"] == "pending"
        pin = json.loads((tags_dir(system.data_dir) / "keep-me.json").read_text())
        assert pin["state"] == "pending" and pin["note"] == "the interesting second"
        deleted = janitor_pass(system, ttl_s=1)
        assert sorted(deleted) == [files[0], files[1], files[4], files[5]]
        assert archive_names(system) == [files[2], files[3]]
    finally:
        os.kill(pivot.pid, signal.SIGCONT)
    with Client(settings=load_settings(system.config, system.data_dir), pivot_url=url) as c:
        tag = c.wait_tag("keep-me", timeout=60)
        assert tag["state"] == "done", tag
        assert tag["records"] == {"alpha": 1000}
        path = tags_dir(system.data_dir) / "keep-me.h5"
        assert tag["size"] == path.stat().st_size
        assert tag["sha256"] == _sha256(path)
        got = read_hdf5(path).channel["alpha"]
        assert got.rx_time.tolist() == times[2500:3500]
        assert got.value.tolist() == [float(i % 1000) for i in range(2500, 3500)]
        saved = c.download_tag("keep-me", system.data_dir.parent / "copy.h5")
        assert saved.read_bytes() == path.read_bytes()
    assert sorted(janitor_pass(system, ttl_s=1)) == [files[2], files[3]]
    assert archive_names(system) == []
    assert read_hdf5(path).channel["alpha"].rows == 1000, "the tag file must outlive the archive"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kill_9_during_an_export_then_a_restart_completes_the_tag(
    system: System, procs: list
) -> None:
    times = make_channel(system.data_dir, files=10, per_file=30_000, period_ns=MS, ago_s=5)
    pivot, url = start_pivot(system, procs)
    body = {"name": "big", "start": format_ns(times[0]), "end": format_ns(times[-1] + 1),
            "channels": "alpha", "time": "rx"}  # fmt: skip
    assert httpx.post(f"{url}/api/v1/tags", json=body, timeout=30).status_code == 202
    folder = tags_dir(system.data_dir)

    def writing() -> bool:
        return any(p.name.startswith(".big.file.") for p in folder.iterdir())

    wait_until(writing, timeout=60, interval=0.01, what="the export writing its file")
    pivot.kill()
    assert not (folder / "big.h5").exists(), "a half file under the tag's name"
    assert json.loads((folder / "big.json").read_text())["state"] == "pending"
    assert any(p.name.startswith(".big.file.") for p in folder.iterdir())

    pivot, url = start_pivot(system, procs)
    with Client(settings=load_settings(system.config, system.data_dir), pivot_url=url) as c:
        tag = c.wait_tag("big", timeout=120)
    assert tag["state"] == "done", tag
    assert sorted(p.name for p in folder.iterdir()) == ["big.h5", "big.json"]
    got = read_hdf5(folder / "big.h5").channel["alpha"]
    assert got.rows == len(times) and np.array_equal(got.rx_time, np.array(times))
    assert tag["sha256"] == _sha256(folder / "big.h5")


def test_tag_requests_answer_in_the_error_shape(system: System, procs: list) -> None:
    make_channel(system.data_dir, files=1, per_file=10, period_ns=MS, ago_s=5)
    _, url = start_pivot(system, procs, SPEEDDATA__PIVOT__REGISTRY_TIMEOUT_S="0.2")
    api = f"{url}/api/v1/tags"
    ok = {"name": "t", "start": "now-1h", "duration": "PT1H", "channels": ["alpha"]}
    cases = [
        (httpx.post(api, content=b"{", headers={"content-type": "application/json"}), 400),
        (httpx.post(api, content=b"x", headers={"content-type": "text/plain"}), 415),
        (httpx.post(api, json=[1]), 400),
        (httpx.post(api, json={**ok, "colour": "red"}), 400),
        (httpx.post(api, json={k: v for k, v in ok.items() if k != "name"}), 400),
        (httpx.post(api, json={**ok, "name": "Bad Name"}), 422),
        (httpx.post(api, json={**ok, "start": "yesterday"}), 400),
        (httpx.post(api, json={**ok, "channels": ["nosuch"]}), 404),
        (httpx.post(api, json={**ok, "signals": ["alpha.nosuch"]}), 404),
        (httpx.post(api, json={**ok, "format": "xls"}), 400),
        (httpx.post(api, json={**ok, "note": 5}), 400),
        (httpx.get(f"{api}/nosuch"), 404),
        (httpx.get(f"{api}/nosuch/download"), 404),
        (httpx.delete(f"{api}/nosuch"), 401),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.content, response.text)
        assert set(response.json()) >= {"error", "detail"}
    assert httpx.post(api, json=ok).status_code == 202
    taken = httpx.post(api, json=ok)
    assert taken.status_code == 409 and taken.json()["error"] == "name_taken"
    assert httpx.delete(f"{api}/t").status_code == 401
    assert httpx.delete(f"{api}/t", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_sdctl_tag_add_list_get_rm(system: System, procs: list) -> None:
    times = make_channel(system.data_dir, files=2, per_file=100, period_ns=10 * MS, ago_s=5)
    _, url = start_pivot(system, procs, SPEEDDATA__PIVOT__REGISTRY_TIMEOUT_S="0.2")

    def sdctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, "-m", "speeddata", "tag", *args, "--url", url], env=system.env, cwd=ROOT,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    added = sdctl("add", "run1", "--start", format_ns(times[50]), "--end", format_ns(times[150]),
                  "-c", "alpha", "--time", "rx", "--wait", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    tag = json.loads(added.stdout)
    assert tag["state"] == "done" and tag["records"] == {"alpha": 100}
    listed = sdctl("list")
    assert listed.stdout.splitlines()[0].split()[:2] == ["NAME", "STATE"]
    assert listed.stdout.splitlines()[1].split()[:2] == ["run1", "done"]
    shown = sdctl("get", "run1")
    assert f"sha256    {tag['sha256']}" in shown.stdout
    again = sdctl("add", "run1", "--start", "now-1h", "-d", "1h", "-c", "alpha")
    assert again.returncode == 1
    assert again.stderr.strip().startswith("sdctl: error:") and "run1" in again.stderr
    assert sdctl("rm", "run1").stdout == "tag run1 removed\n"
    assert sorted(p.name for p in tags_dir(system.data_dir).iterdir()) == []
    gone = sdctl("get", "run1")
    assert gone.returncode == 1 and len(gone.stderr.splitlines()) == 1
    with Client(settings=load_settings(system.config, system.data_dir), pivot_url=url) as c:
        made = c.tag("run2", format_ns(times[0]), ["alpha"], duration="PT0.5S", time="rx",
                     format="csv")  # fmt: skip
        assert made["state"] == "pending"
        done = c.wait_tag("run2")
        assert done["file"] == "run2.csv" and done["records"] == {"alpha": 50}
        assert [t["name"] for t in c.tags()] == ["run2"]
        c.delete_tag("run2")
        assert c.tags() == []


def test_a_range_that_ends_later_is_exported_once_it_has_ended(
    system: System, procs: list, relay_binary: Path
) -> None:
    relay = start_relay(procs, relay_binary, system.data_dir, channel="live")
    _, url = start_pivot(system, procs, SPEEDDATA__PIVOT__REGISTRY_TIMEOUT_S="0.2")
    sent = 0
    relay.send(probe_datagrams(sent, 50))
    sent += 50
    relay.wait_archived(sent)
    start = time.time_ns()
    body = {"name": "next", "start": format_ns(start), "duration": "PT3S", "channels": ["live"],
            "time": "rx"}  # fmt: skip
    assert httpx.post(f"{url}/api/v1/tags", json=body, timeout=30).status_code == 202
    with Client(settings=load_settings(system.config, system.data_dir), pivot_url=url) as c:
        while time.time_ns() < start + 4 * S:
            relay.send(probe_datagrams(sent, 10))
            sent += 10
            assert c.get_tag("next")["state"] == "pending"
            time.sleep(0.1)
        tag = c.wait_tag("next", timeout=30)
    assert tag["state"] == "done", tag
    want = [r["rx_time"] for r in relay.archived() if start <= r["rx_time"] < start + 3 * S]
    got = read_hdf5(tags_dir(system.data_dir) / "next.h5").channel["live"]
    assert got.rx_time.tolist() == want and len(want) >= 100
