"""sdctl: the whole data path under `sdctl up --demo`, the watching commands, one-line errors,
and the generated reference."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

import h5py
import pytest
import yaml

from speeddata.cli.send import relay_address
from speeddata.config import ROOT, load_settings
from speeddata.logfmt import parse_line
from tests.procs import wait_until
from tests.system import PY, System, alive, make_system, relay_pids


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary)


def sdctl(system: System, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Runs sdctl; leading ``NAME=value`` arguments are set in its environment, as in a shell."""
    env = dict(system.env)
    while args and "=" in args[0] and args[0].split("=", 1)[0].isupper():
        name, _, value = args[0].partition("=")
        env[name], args = value, args[1:]
    return subprocess.run(
        [PY, "-m", "speeddata", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def json_lines(done: subprocess.CompletedProcess[str]) -> list[dict]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_up_demo_archives_reports_exports_and_stops_everything_on_ctrl_c(
    system: System, procs: list, tmp_path: Path
) -> None:
    up = system.up("--demo", "--rate", "20")
    procs.append(up)
    assert up.ready["service"] == "sdctl" and up.ready["xpub"] == system.xpub
    children = {}
    for line in up.lines:
        name, _, rest = line.partition("| ")
        fields = parse_line(rest)
        if fields.get("event") == "ready":
            children[name.strip()] = int(fields["pid"])
    assert set(children) == {"bus", "registry", "ingest", "janitor", "pivot", "stripchart", "demo"}
    wait_until(lambda: "Ctrl-C stops everything" in "\n".join(up.stdout_lines), what="summary")
    port = yaml.safe_load(system.config.read_text())["stripchart"]["port"]
    assert f"dashboard http://127.0.0.1:{port}/" in "\n".join(up.stdout_lines)

    for channel in ("example", "temperature"):
        wait_until(lambda c=channel: len(system.archived(c)) >= 5, what=f"{channel} archived")

    def both_running() -> list[dict] | None:
        rows = json_lines(sdctl(system, "status", "--json"))
        ok = [r for r in rows if r["relay"] == "started" and r["state"] == "running"]
        return rows if len(ok) == 2 and all(r["archived"] > 0 for r in ok) else None

    rows = wait_until(both_running, what="status of both channels")
    assert [r["channel"] for r in rows] == ["example", "temperature"]
    assert all(r["file"].endswith(".avro") and r["kernel_drops"] == 0 for r in rows)
    table = sdctl(system, "status").stdout
    assert table.splitlines()[0].split()[:4] == ["CHANNEL", "RELAY", "RESTARTS", "STATE"]
    assert "example" in table and "temperature" in table and "running" in table

    events = json_lines(sdctl(system, "events", "--topic", "relay.status", "-n", "4"))
    assert {e["topic"] for e in events} <= {"relay.status.example", "relay.status.temperature"}
    assert all(e["event"] == "RelayStatus" for e in events)
    data = json_lines(sdctl(system, "events", "--topic", "data.example", "-n", "1"))
    assert bytes.fromhex(data[0]["records"]) and data[0]["count"] >= 1

    tailed = json_lines(sdctl(system, "tail", "example", "-n", "3", "--timeout", "20"))
    assert len(tailed) == 3
    assert tailed[1]["counter"] == tailed[0]["counter"] + 1
    assert tailed[0]["rx_time"] >= tailed[0]["time"]
    picked = json_lines(
        sdctl(system, "tail", "temperature", "--signals", "temperature_c,status", "-n", "2")
    )
    assert [set(r) for r in picked] == [{"rx_time", "temperature_c", "status"}] * 2

    out = tmp_path / "up.h5"
    done = sdctl(system, "export", "--start", "now-1h", "--end", "now", "--channels",
                 "example,temperature", "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with h5py.File(out) as f:
        assert len(f["example/counter"]) >= 5 and len(f["temperature/rx_time"]) >= 5

    pids = list(children.values())
    pids += [p for c in ("example", "temperature") for p in relay_pids(system.data_dir, c)]
    assert len(pids) == 9
    up.popen.send_signal(signal.SIGINT)
    assert up.popen.wait(15) == 0
    assert [p for p in pids if alive(p)] == []


def test_send_demo_feeds_the_channels_through_ingest(system: System, procs: list) -> None:
    procs.append(system.start("-m", "services.bus"))
    procs.append(system.start("-m", "services.ingest"))
    for encoding in ("bare", "single-object"):
        done = sdctl(system, "send", "demo", "--count", "30", "--rate", "0",
                     "--encoding", encoding, "--batch", "10")  # fmt: skip
        assert done.returncode == 0, done.stderr
    for channel in ("example", "temperature"):
        wait_until(lambda c=channel: len(system.archived(c)) == 60, what=f"60 {channel} records")
    counters = [r["counter"] for r in system.archived("example")]
    assert counters == list(range(30)) * 2


@pytest.mark.parametrize(
    ("bind", "host"),
    [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("127.0.0.2", "127.0.0.2"), ("10.1.2.3", "10.1.2.3")],
)
def test_send_demo_sends_where_the_relays_bind(bind: str, host: str) -> None:
    assert relay_address(load_settings(environ={}).override(relay={"bind": bind})) == host


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status"], "cannot reach the bus at tcp://127.0.0.1:"),
        (["events", "-n", "1"], "cannot reach the bus at tcp://127.0.0.1:"),
        (["tail", "example", "-n", "1"], "cannot reach the bus at tcp://127.0.0.1:"),
        (["tail", "nope"], "unknown channel 'nope' (channels: example, temperature)"),
        (["tail", "example", "--signals", "nope"], "channel example has no signal 'nope'"),
        (["send", "demo", "--channel", "bogus"], "Invalid value for '--channel'"),
        (["send", "demo", "--rate", "-1"], "Invalid value for '--rate'"),
        (
            ["serve", "nope"],
            "unknown service 'nope' (services: bus, registry, ingest, janitor, pivot, stripchart)",
        ),
        (
            ["SPEEDDATA__RELAY__BINARY=/nonexistent/relay", "serve", "ingest"],
            "ingest: relay binary /nonexistent/relay is missing",
        ),
        (["status", "--bogus"], "No such option: --bogus"),
        (["status", "--wait", "0"], "Invalid value for '--wait'"),
        (["events", "--topic", "a..b"], "empty segment"),
        (["up", "--config", "/nonexistent/x.yaml"], "cannot read config file"),
        (["send", "demo", "--host", "nonexistent.invalid"], "cannot send to nonexistent.invalid"),
        (["SPEEDDATA__PORTS__START=abc", "tail", "example"], "ports.start must be an integer"),
        (
            ["SPEEDDATA__INGEST__BACKOFF_MAX_S=abc", "serve", "ingest"],
            "backoff_max_s must be a number",
        ),
    ],
)
def test_domain_errors_are_one_line(system: System, args: list[str], message: str) -> None:
    done = sdctl(system, *args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sdctl: error: "), done.stderr
    assert message in lines[0]


def test_a_reader_that_leaves_ends_sdctl_quietly(system: System, procs: list) -> None:
    procs.append(system.start("-m", "services.bus"))
    events = subprocess.Popen(
        [PY, "-m", "speeddata", "events"],
        env=system.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert events.stdout is not None and events.stderr is not None
    assert json.loads(events.stdout.readline())["topic"] == "bus.status"
    events.stdout.close()  # `| head -1`: the next line meets a closed pipe (bus.status, 1 Hz)
    assert events.wait(15) == 0
    assert events.stderr.read() == ""


def test_help_and_python_dash_m(system: System) -> None:
    done = sdctl(system, "--help")
    assert done.returncode == 0
    for command in ("up", "serve", "send", "events", "tail", "status", "export"):
        assert command in done.stdout


def test_cli_reference_is_current() -> None:
    done = subprocess.run(
        [PY, "-m", "speeddata.cli.reference", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr + " (run: python -m speeddata.cli.reference)"


def test_ctrl_c_during_start_up_stops_what_was_started(
    tmp_path: Path, procs: list, relay_binary: Path
) -> None:
    started = tmp_path / "relays.pid"
    stub = tmp_path / "silent_relay"  # a relay that never says it is ready: ingest waits
    stub.write_text(  # (it judges schemas as the relay does)
        f'#!/bin/sh\ncase "$1" in --*-schema) exec {relay_binary} "$@";; esac\n'
        f"echo $$ >> {started}\nexec sleep 60\n"
    )
    stub.chmod(0o755)
    system = make_system(tmp_path, stub)
    up = system.start("-m", "speeddata", "up", wait_ready=False)
    procs.append(up)
    up.wait_line(lambda line: line.startswith("bus") and "| event=ready" in line)
    wait_until(lambda: started.exists() and len(started.read_text().split()) == 2)
    pids = [*children(up.pid), *map(int, started.read_text().split())]
    assert len(pids) == 5  # bus, registry, ingest, two relays
    up.popen.send_signal(signal.SIGINT)
    assert up.popen.wait(10) == 0, "sdctl up waited for ingest instead of stopping"
    assert not any("event=ready service=sdctl" in line for line in up.lines)
    wait_until(lambda: not any(map(alive, pids)), what="the started children to exit")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(c) for t in tasks for c in (t / "children").read_text().split()]


def _taken(endpoint: str) -> socket.socket:
    """A real listening socket on the port of a ``tcp://host:port`` endpoint."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])))
    taken.listen()
    return taken


def test_up_with_the_bus_port_taken_is_one_error_line(system: System) -> None:
    with _taken(system.xsub):
        done = sdctl(system, "up")
    assert done.returncode == 1
    why = f"cannot bind xsub {system.xsub}: Address already in use"
    assert done.stderr.splitlines() == [f"sdctl: error: bus exited: {why}"], done.stderr


def test_serve_errors_are_one_line(system: System, procs: list) -> None:
    with _taken(system.xpub):
        done = sdctl(system, "serve", "bus")
    assert done.returncode == 1
    why = f"cannot bind xpub {system.xpub}: Address already in use"
    assert done.stderr.splitlines() == [f"sdctl: error: bus: {why}"], done.stderr

    first = system.start("-m", "services.ingest")
    procs.append(first)
    done = sdctl(system, "serve", "ingest")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"sdctl: error: ingest: another ingest supervisor (pid {first.pid})")


def test_killed_up_leaves_no_process(system: System, procs: list) -> None:
    up = system.up()
    procs.append(up)
    pids = [int(parse_line(line.partition("| ")[2])["pid"]) for line in up.lines
            if "| event=ready" in line]  # fmt: skip
    pids += [p for c in ("example", "temperature") for p in relay_pids(system.data_dir, c)]
    assert len(pids) == 8
    up.kill()
    try:
        wait_until(lambda: not any(map(alive, pids)), what="every child of sdctl up to exit")
    except AssertionError as e:
        raise AssertionError(f"{e}; still alive: {_described(pids)}") from None


def _described(pids: list[int]) -> str:
    """The command lines of the processes of `pids` still alive (for a failure message)."""
    out = []
    for pid in filter(alive, pids):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            out.append(f"{pid} {b' '.join(argv).decode(errors='replace')}")
        except OSError:
            continue
    return "; ".join(out) or "none"
