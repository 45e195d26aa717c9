"""``sdctl channel add|list|show|rm|schemas`` as a user runs them, against the real registry
service; every refusal and an unreachable registry are one line ``sdctl: error: ...``."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from speeddata import Client
from speeddata.config import ROOT
from tests.clienttools import Registry, running_registry
from tests.system import PY, free_tcp_port

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Registry]:
    yield from running_registry(tmp_path_factory, relay_binary)


def sdctl(registry: Registry, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``sdctl`` in the registry's installation: it finds the URL in the settings (with the
    port the registry bound) and the token in the data dir."""
    full = {**registry.system.env, "SPEEDDATA__REGISTRY__PORT": registry.url.rsplit(":", 1)[1]}
    return subprocess.run(
        [PY, "-m", "speeddata", *args], env={**full, **env}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a failed command (no traceback)."""
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sdctl: error: "), done.stderr
    return lines[0]


def write(tmp_path: Path, schema: object, name: str = "s.avsc") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(schema))
    return str(path)


def test_add_list_show_schemas_rm(registry: Registry, tmp_path: Path) -> None:
    free = Client(registry.url).ports_available()[0]
    schema = write(tmp_path, EXAMPLE)
    add = ("channel", "add", "bench1", "--schema", schema, "--decimation", "10")
    out = ok(sdctl(registry, *add, "--algorithm", "mean", "--time-field", "time"))
    assert f"channel bench1 registered: udp port {free}, schema v1" in out
    record = Client(registry.url).channel("bench1")
    assert record["config"] == {"decimation": 10, "algorithm": "mean"}
    assert record["time_field"] == "time" and record["time_unit"] == "ns"

    table = ok(sdctl(registry, "channel", "list")).splitlines()
    assert table[0].split() == ["CHANNEL", "PORT", "STATUS", "REC/S", "RECORDS", "DROPS",
                                "REJECTS", "SCHEMA", "DECIMATION"]  # fmt: skip
    row = next(line.split() for line in table if line.startswith("bench1 "))
    assert row[:3] == ["bench1", str(free), "starting"] and row[7] == "v1"
    assert {"example", "temperature"} <= {line.split()[0] for line in table[1:]}
    listed = json.loads(ok(sdctl(registry, "channel", "list", "--json", "--status", "starting")))
    assert "bench1" in {c["name"] for c in listed}

    shown = ok(sdctl(registry, "channel", "show", "bench1"))
    assert "status         starting" in shown and f"port           {free}" in shown
    assert json.loads(ok(sdctl(registry, "channel", "show", "bench1", "--json")))["port"] == free

    v2 = copy.deepcopy(EXAMPLE)
    v2["fields"].append({"name": "extra", "type": "float", "default": 0.0})
    Client(registry.url, registry.token).update_channel("bench1", schema=v2)
    versions = ok(sdctl(registry, "channel", "schemas", "bench1")).splitlines()
    assert [line.split()[0] for line in versions] == ["VERSION", "1", "2"]
    assert "extra" in versions[2] and "extra" not in versions[1]
    assert json.loads(ok(sdctl(registry, "channel", "schemas", "bench1", "--version", "2"))) == v2
    assert "no schema version 7" in one_error(
        sdctl(registry, "channel", "schemas", "bench1", "--version", "7")
    )

    assert "channel bench1 removed" in ok(sdctl(registry, "channel", "rm", "bench1"))
    assert "no channel named 'bench1'" in one_error(sdctl(registry, "channel", "rm", "bench1"))


def test_refusals_are_one_line(registry: Registry, tmp_path: Path) -> None:
    port = Client(registry.url).ports_available()[0]
    schema = write(tmp_path, EXAMPLE)
    taken = str(registry.system.ports["example"])
    line = one_error(sdctl(registry, "channel", "add", "x1", "--schema", schema, "--port", taken))
    assert f"port {taken} is used by channel 'example'" in line
    line = one_error(sdctl(registry, "channel", "add", "example", "--schema", schema))
    assert "a channel named 'example' exists" in line
    fields = [{"name": "rx_time", "type": "long"}]
    bad = write(tmp_path, {"type": "record", "name": "r", "fields": fields})
    assert "rx_time" in one_error(sdctl(registry, "channel", "add", "x2", "--schema", bad))
    line = one_error(sdctl(registry, "channel", "add", "Bad!", "--schema", schema))
    assert "name" in line
    line = one_error(
        sdctl(registry, "channel", "add", "x3", "--schema", schema, "--port", str(port),
              SPEEDDATA_TOKEN="not-the-token")
    )  # fmt: skip
    assert "token" in line
    assert "--algorithm 'fast'" in one_error(
        sdctl(registry, "channel", "add", "x4", "--schema", schema, "--algorithm", "fast")
    )
    assert "no channel named 'ghost'" in one_error(sdctl(registry, "channel", "show", "ghost"))
    assert Client(registry.url).port_status(port)["available"] is True  # nothing was added


def test_unreachable_registry_is_one_line(registry: Registry) -> None:
    url = f"http://127.0.0.1:{free_tcp_port()}"
    line = one_error(sdctl(registry, "channel", "list", "--url", url))
    assert f"cannot reach {url}/api/v1" in line and "sdctl up" in line


def test_status_and_tail_know_the_registry_channels(
    registry: Registry, procs: list, tmp_path: Path
) -> None:
    """sdctl status lists the registry's channels (not the baseline's); tail finds a channel
    registered at runtime."""
    procs.append(registry.system.start("-m", "services.bus"))
    reg = Client(registry.url, registry.token)
    reg.add_channel("runtime1", EXAMPLE, port=reg.ports_available()[0])
    reg.remove_channel("temperature")
    rows = [json.loads(line) for line in ok(sdctl(registry, "status", "--json")).splitlines()]
    names = [r["channel"] for r in rows]
    assert "runtime1" in names and "example" in names and "temperature" not in names
    done = sdctl(registry, "tail", "runtime1", "--signals", "nope", "-n", "1")
    assert "channel runtime1 has no signal 'nope'" in one_error(done)
