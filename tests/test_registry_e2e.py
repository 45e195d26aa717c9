"""End to end, all real: bus, registry, ingest, relays, a device's Sender and the user's sdctl.
A channel registered at runtime captures; a compatible schema change keeps both versions in
the archive; removal stops the relay and keeps the archive; kill -9 of the supervisor, of the
registry or of both converges with no manual step and no duplicate relay; ``sdctl up``'s
one-time login link opens the page once."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from speeddata import Client, Sender
from speeddata.archive import archive_files, read_records
from speeddata.config import ROOT, load_settings
from speeddata.demo import demo_records
from tests.procs import Proc, wait_until
from tests.system import PY, System, alive, free_channel_ports, make_system, relay_pids

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
V2 = copy.deepcopy(EXAMPLE)
V2["fields"].append({"name": "firmware", "type": "string", "default": "1.0"})


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary, ingest={"registry_poll_s": 2.0})


def start(system: System, procs: list, service: str) -> Proc:
    proc = system.start("-m", f"services.{service}")
    procs.append(proc)
    return proc


def sdctl(system: System, *args: str) -> str:
    done = subprocess.run(
        [PY, "-m", "speeddata", *args], env=system.env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def client(system: System) -> Client:
    return Client(settings=load_settings(system.config, system.data_dir))


def by_file(system: System, channel: str) -> list[list[dict]]:
    return [read_records(p) for p in archive_files(system.data_dir, channel)]


def send_until_archived(system: System, schema: dict, port: int, records: list[dict]) -> None:
    """Sends ``records`` (again, while a restarting relay is not listening yet) until all are
    archived."""
    with Sender(schema, "127.0.0.1", port) as sender:

        def all_there() -> bool:
            sender.send_many(records)
            got = [r for f in by_file(system, "sensor") for r in f]
            bare = [{k: v for k, v in r.items() if k != "rx_time"} for r in got]
            return all(r in bare for r in records)

        wait_until(all_there, interval=0.5, what="records archived")


def test_add_send_patch_send_remove(system: System, procs: list, tmp_path: Path) -> None:
    start(system, procs, "bus")
    start(system, procs, "registry")
    start(system, procs, "ingest")
    port = free_channel_ports(1)[0]
    v1_file = tmp_path / "sensor.avsc"
    v1_file.write_text(json.dumps(EXAMPLE))
    out = sdctl(system, "channel", "add", "sensor", "--schema", str(v1_file),
                "--port", str(port), "--time-field", "time")  # fmt: skip
    assert f"channel sensor registered: udp port {port}, schema v1" in out

    records = demo_records("example", seed=11)
    first = [next(records) for _ in range(20)]
    send_until_archived(system, EXAMPLE, port, first)

    client(system).update_channel("sensor", schema=V2)
    second = [{**next(records), "firmware": "2.1"} for _ in range(20)]
    send_until_archived(system, V2, port, second)

    files = by_file(system, "sensor")
    v1_records = [r for f in files for r in f if "firmware" not in r]
    v2_records = [r for f in files for r in f if "firmware" in r]
    strip = [{k: v for k, v in r.items() if k != "rx_time"} for r in v1_records]
    assert [r for r in first if r in strip] == first
    assert {r["firmware"] for r in v2_records} == {"2.1"}
    assert all(len({"firmware" in r for r in f}) == 1 for f in files)  # one version a file
    versions = sdctl(system, "channel", "schemas", "sensor").splitlines()
    assert [v.split()[0] for v in versions[1:]] == ["1", "2"]

    pids = relay_pids(system.data_dir, "sensor")
    assert len(pids) == 1
    assert "channel sensor removed" in sdctl(system, "channel", "rm", "sensor")
    wait_until(lambda: relay_pids(system.data_dir, "sensor") == [], what="the relay to stop")
    assert not alive(pids[0])
    seen = [r for f in files for r in f]
    kept = [r for f in by_file(system, "sensor") for r in f]
    assert seen and kept[: len(seen)] == seen  # the archive stays (a last flush may add some)
    listed = sdctl(system, "channel", "list")
    assert "sensor" not in listed and "example" in listed


def one_each(system: System, channels: list[str]) -> dict[str, int]:
    """Waits until exactly one relay runs per channel; their pids."""

    def found() -> dict[str, int] | None:
        pids = {c: relay_pids(system.data_dir, c) for c in channels}
        return (
            {c: p[0] for c, p in pids.items()} if all(len(p) == 1 for p in pids.values()) else None
        )

    return wait_until(found, what=f"one relay for each of {channels}")  # type: ignore[no-any-return]


def test_kill_9_of_supervisor_registry_or_both_converges(system: System, procs: list) -> None:
    start(system, procs, "bus")
    registry = start(system, procs, "registry")
    ingest = start(system, procs, "ingest")
    reg = client(system)
    reg.add_channel("k1", EXAMPLE, port=free_channel_ports(1)[0])
    channels = ["example", "temperature", "k1"]
    before = one_each(system, channels)

    registry.kill()  # relays keep running; a new registry finds its database intact
    registry = start(system, procs, "registry")
    assert one_each(system, channels) == before
    reg.add_channel("k2", EXAMPLE, port=free_channel_ports(1)[0])
    channels.append("k2")
    before = one_each(system, channels)

    ingest.kill()  # its relays die with it; the next one starts each exactly once
    wait_until(lambda: not any(alive(p) for p in before.values()), what="relays to die")
    ingest = start(system, procs, "ingest")
    after = one_each(system, channels)
    assert not set(after.values()) & set(before.values())
    wait_until(lambda: {c["name"]: c["status"] for c in reg.channels()}
               == dict.fromkeys(channels, "active"), what="every channel active")  # fmt: skip

    registry.kill()
    ingest.kill()
    wait_until(lambda: not any(alive(p) for p in after.values()), what="relays to die")
    ingest = start(system, procs, "ingest")  # the registry is still away: the last answer
    one_each(system, channels)
    start(system, procs, "registry")
    reg.remove_channel("k1")
    wait_until(lambda: relay_pids(system.data_dir, "k1") == [], what="k1 removed")
    one_each(system, ["example", "temperature", "k2"])


def test_up_prints_the_registry_and_a_one_time_login_link(system: System, procs: list) -> None:
    up = system.up()
    procs.append(up)
    url = up.ready["registry"]
    wait_until(lambda: "Ctrl-C stops everything" in "\n".join(up.stdout_lines), what="summary")
    summary = "\n".join(up.stdout_lines)
    assert f"page {url}/, REST API {url}/api/v1" in summary
    link = next(w for w in summary.split() if w.startswith(f"{url}/login?token="))
    opened = httpx.get(link)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert httpx.get(link).status_code == 401  # one time only
    listed = sdctl(system, "channel", "list", "--url", url)
    assert {"example", "temperature"} <= {line.split()[0] for line in listed.splitlines()[1:]}
