"""The janitor as a process on the real bus: it scans on start, tells each deletion and a 1 Hz
status with listed topics and fields, follows ``relay.file`` events, and a restart deletes
nothing more; ``--dry-run`` (``python -m services.janitor`` and ``sdctl serve janitor``) only
prints."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from speeddata.bus import Subscriber
from speeddata.config import ROOT, load_settings
from speeddata.events import assert_event_listed
from tests.procs import Proc, wait_until
from tests.relaytools import probe_datagrams, start_relay
from tests.system import PY, System, make_system
from tests.test_janitor import make_files


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(
        tmp_path, relay_binary, janitor={"ttl_s": 30, "min_free_bytes": 0, "interval_s": 60.0}
    )


def passes(proc: Proc) -> list[str]:
    return [line for line in proc.lines if line.startswith("event=pass ")]


def test_scans_on_start_reports_on_the_bus_and_a_restart_deletes_nothing_more(
    system: System, procs: list, relay_binary: Path
) -> None:
    old = make_files(system.data_dir, "alpha", [90, 60, 10])
    bus = system.start("-m", "services.bus")
    procs.append(bus)
    settings = load_settings(system.config, system.data_dir)
    with Subscriber(["janitor"], settings) as sub:
        time.sleep(0.3)
        janitor = system.start("-m", "services.janitor")
        procs.append(janitor)
        heard: dict[str, list[dict]] = {}
        while len(heard.get("janitor.status", [])) < 2:
            event = sub.recv(timeout=15)
            assert event is not None, "no janitor event"
            assert_event_listed(event.topic, event.fields)
            heard.setdefault(event.topic, []).append(event.fields)
    assert [f["path"] for f in heard["janitor.deleted.alpha"]] == [str(p) for p in old[:2]]
    status = heard["janitor.status"][-1]
    assert status["deleted_files"]["ttl"] == 2 and status["archive_files"] == 1
    assert status["deleted_records"] == 20 and status["passes"] >= 1
    assert not old[0].exists() and not old[1].exists() and old[2].exists()

    janitor.stop()
    janitor = system.start("-m", "services.janitor")
    procs.append(janitor)
    wait_until(lambda: passes(janitor), what="the first pass after the restart")
    assert "deleted=0 " in passes(janitor)[0]
    assert old[2].exists()


def test_a_closed_file_goes_after_its_relay_file_event(
    system: System, procs: list, relay_binary: Path
) -> None:
    procs.append(system.start("-m", "services.bus"))
    env = dict(system.env, SPEEDDATA__JANITOR__TTL_S="1")  # passes every 60 s, and on events
    janitor = Proc([PY, "-m", "services.janitor"], env, ROOT)
    procs.append(janitor)
    janitor.wait_ready()
    wait_until(lambda: passes(janitor), what="the first pass")
    relay = start_relay(procs, relay_binary, system.data_dir, f"--bus={system.xsub}",
                        "--rotate-bytes=2000")  # fmt: skip
    relay.send(probe_datagrams(0, 40))
    wait_until(lambda: len(relay.files()) >= 2, what="a rotation")
    first = relay.files()[0]
    time.sleep(1.2)  # older than the TTL now; the next rotation's event brings a pass
    relay.send(probe_datagrams(40, 40))
    wait_until(lambda: not first.exists(), timeout=10, what="the closed file past its TTL")
    assert relay.files(), "the file being written went too"


def test_dry_run_prints_what_it_would_delete(system: System) -> None:
    old = make_files(system.data_dir, "alpha", [90, 10])
    for argv in (["-m", "services.janitor", "--dry-run"],
                 ["-m", "speeddata", "serve", "janitor", "--dry-run"]):  # fmt: skip
        done = subprocess.run(
            [PY, *argv], env=system.env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert f"would delete {old[0]} (" in done.stdout
        assert str(old[1]) not in done.stdout
        assert old[0].exists()
    done = subprocess.run(
        [PY, "-m", "speeddata", "serve", "bus", "--dry-run"], env=system.env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip() == "sdctl: error: --dry-run is for the janitor only"
