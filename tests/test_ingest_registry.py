"""Ingest driven by the registry, all real processes (bus, registry, ingest, relays): relays
follow channels added, changed and removed at runtime; a relay that keeps dying shows
``failed`` with its last error line; a supervisor that starts while the registry is away runs
the channels the registry gave it last, and converges when the registry is back."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest

from speeddata import Client
from speeddata.config import ROOT, load_settings
from tests.procs import Proc, wait_until
from tests.system import System, alive, free_channel_ports, make_system, relay_pids

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    ingest = {"backoff_max_s": 1.0, "registry_poll_s": 2.0}
    return make_system(tmp_path, relay_binary, ingest=ingest)


def client(system: System) -> Client:
    """A client of the system's registry, with the token the registry made in its data dir."""
    return Client(settings=load_settings(system.config, system.data_dir))


def start(system: System, procs: list, service: str) -> Proc:
    proc = system.start("-m", f"services.{service}")
    procs.append(proc)
    return proc


def argv_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def flag(pid: int, name: str) -> str:
    argv = argv_of(pid)
    return argv[argv.index(name) + 1]


def one_relay(system: System, procs: list[Proc], channel: str, **flags: str) -> int:
    """Waits until exactly one relay runs for ``channel``, with these flag values; its pid."""

    def found() -> int | None:
        pids = relay_pids(system.data_dir, channel)
        if len(pids) != 1:
            return None
        try:
            ok = all(flag(pids[0], f"--{k.replace('_', '-')}") == v for k, v in flags.items())
        except (OSError, ValueError):
            return None
        return pids[0] if ok else None

    try:
        return int(wait_until(found, what=f"one relay of {channel} with {flags}"))
    except AssertionError as e:
        ingest = [p for p in procs if "services.ingest" in p.argv]
        tail = "\n".join(ingest[-1].lines[-25:]) if ingest else "(no ingest)"
        running = relay_pids(system.data_dir, channel)
        raise AssertionError(f"{e}; relays {running}; ingest said:\n{tail}") from None


def test_relays_follow_channels_added_changed_and_removed(system: System, procs: list) -> None:
    start(system, procs, "bus")
    start(system, procs, "registry")
    ingest = start(system, procs, "ingest")
    assert ingest.ready["channels"] == "2"  # the baseline, seeded into the registry
    example = one_relay(system, procs, "example")
    reg = client(system)
    port = free_channel_ports(1)[0]

    reg.add_channel("added1", EXAMPLE, port=port, time_field="time")
    first = one_relay(system, procs, "added1", port=str(port))
    schema_v1 = system.data_dir / "schemas" / "added1.v1.avsc"
    assert flag(first, "--schema") == str(schema_v1)
    assert json.loads(schema_v1.read_text()) == EXAMPLE

    reg.update_channel("added1", config={"decimation": 5, "algorithm": "mean"})
    second = one_relay(system, procs, "added1", decimate="5", algorithm="mean")
    assert second != first and not alive(first)

    v2 = copy.deepcopy(EXAMPLE)
    v2["fields"].append({"name": "extra", "type": "double", "default": 0.0})
    reg.update_channel("added1", schema=v2)
    schema_v2 = system.data_dir / "schemas" / "added1.v2.avsc"
    third = one_relay(system, procs, "added1", schema=str(schema_v2), decimate="5")
    assert third != second and schema_v1.exists() and json.loads(schema_v2.read_text()) == v2
    assert flag(third, "--fingerprint") == reg.channel("added1")["fingerprint"]

    reg.remove_channel("added1")
    reg.add_channel("renamed1", EXAMPLE, port=port)  # its port, at once: taken over once free
    one_relay(system, procs, "renamed1", port=str(port))
    assert not [line for line in ingest.lines if "channel=renamed1" in line and "exited" in line]
    assert relay_pids(system.data_dir, "added1") == []
    assert relay_pids(system.data_dir, "example") == [example]  # the others never restarted
    assert any("event=relay_retired" in line and "reason=removed" in line for line in ingest.lines)


def test_a_relay_that_keeps_dying_shows_failed_then_recovers(system: System, procs: list) -> None:
    start(system, procs, "bus")
    start(system, procs, "registry")
    start(system, procs, "ingest")
    reg = client(system)
    port = free_channel_ports(1)[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        reg.add_channel("dying", EXAMPLE, port=port)
        failed = wait_until(
            lambda: (c := reg.channel("dying"))["status"] == "failed" and c, what="failed"
        )
        assert str(port) in failed["last_error"], failed["last_error"]
    wait_until(lambda: reg.channel("dying")["status"] == "active", what="active once free")
    assert reg.channel("dying")["last_error"] is None
    assert len(relay_pids(system.data_dir, "dying")) == 1


def test_a_supervisor_started_while_the_registry_is_away_runs_its_last_answer(
    system: System, procs: list
) -> None:
    start(system, procs, "bus")
    registry = start(system, procs, "registry")
    ingest = start(system, procs, "ingest")
    reg = client(system)
    reg.add_channel("late", EXAMPLE, port=free_channel_ports(1)[0])
    one_relay(system, procs, "late")
    reg.remove_channel("temperature")  # a baseline channel the registry no longer has
    wait_until(lambda: relay_pids(system.data_dir, "temperature") == [], what="temperature gone")

    registry.kill()
    ingest.wait_line(lambda line: line.startswith("event=registry_away service=ingest"))
    ingest.kill()  # its relays die with it
    wait_until(lambda: relay_pids(system.data_dir, "late") == [], what="relays to die")
    again = start(system, procs, "ingest")
    assert any("event=registry_away" in line for line in again.lines)
    one_relay(system, procs, "late")
    one_relay(system, procs, "example")
    assert relay_pids(system.data_dir, "temperature") == []  # not the baseline's list

    start(system, procs, "registry")
    again.wait_line(lambda line: line.startswith("event=registry_back service=ingest"))
    reg.remove_channel("late")
    wait_until(lambda: relay_pids(system.data_dir, "late") == [], what="late removed")
    assert len(relay_pids(system.data_dir, "example")) == 1
