"""The ingest supervisor: relay command lines, back-off, and real relays kept running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from services.ingest._argv import relay_argv, write_schema
from services.ingest._relay import Backoff
from speeddata.bus import Subscriber
from speeddata.catalog import configured_channels
from speeddata.channels import multicast_endpoints
from speeddata.config import ROOT, load_settings
from speeddata.demo import demo_records
from speeddata.events import assert_event_listed
from speeddata.logfmt import parse_line
from speeddata.schema import fingerprint
from speeddata.sender import Sender
from tests.procs import Proc, wait_until
from tests.system import PY, System, alive, make_system, relay_pids

EVENT_TIMEOUT = 15.0


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary)


def _flags(argv: list[str]) -> dict[str, str]:
    return {
        a: (argv[i + 1] if i + 1 < len(argv) else "") for i, a in enumerate(argv) if a[:2] == "--"
    }


def test_relay_argv_passes_every_setting(system: System) -> None:
    settings = load_settings(system.config, system.data_dir)
    example = configured_channels(settings)[0]
    schema_path = write_schema(example, system.data_dir)
    argv = relay_argv(example, settings, schema_path)
    flags = _flags(argv)
    full, dec = multicast_endpoints(example.port, settings)
    assert argv[0] == str(settings.path(settings.relay.binary))
    assert argv[-1] == "--die-with-parent"
    assert flags == {
        "--name": "example",
        "--port": str(example.port),
        "--schema": str(system.data_dir / "schemas" / "example.avsc"),
        "--data-dir": str(system.data_dir),
        "--bind": "127.0.0.1",
        "--fingerprint": fingerprint(example.schema),
        "--mcast-full": str(full),
        "--mcast-dec": str(dec),
        "--mcast-if": "127.0.0.1",
        "--mcast-ttl": "0",
        "--decimate": "1",
        "--algorithm": "downsample",
        "--rotate-seconds": "60",
        "--rotate-bytes": "67108864",
        "--flush-ms": "20",
        "--dec-max-bytes": "1472",
        "--time-field": "time",
        "--time-unit": "ns",
        "--bus": system.xsub,
        "--rcvbuf": str(settings.relay.rcvbuf),
        "--quarantine-bytes": str(settings.relay.quarantine_bytes),
        "--die-with-parent": "",
    }
    assert schema_path.read_text() == (ROOT / "config/agents/example.avsc").read_text()


def test_backoff_doubles_caps_and_resets_after_a_stable_run() -> None:
    b = Backoff(initial=0.5, maximum=3.0, stable_after=10.0)
    assert [b.next(0.1) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert b.next(10.0) == 0.5
    assert b.next(1.0) == 1.0


def _ingest_events(system: System) -> Subscriber:
    settings = load_settings(system.config, system.data_dir)
    return Subscriber("ingest.relay", settings)


def _next_action(
    sub: Subscriber, channel: str, action: str, by: int | None = None, **match: object
) -> dict:
    """The next non-repeat ingest.relay event of `channel` with `action`, published by the
    supervisor of pid `by` if given (the bus cache may replay a former one's); fails loudly."""
    seen: list[tuple] = []
    while True:
        event = sub.recv(EVENT_TIMEOUT)
        assert event is not None, f"no {action} event for {channel}; saw {seen}"
        assert_event_listed(event.topic, event.fields)
        f = event.fields
        seen.append((f["channel"], f["action"], f["repeat"]))
        wanted = {"channel": channel, "action": action, "repeat": False, **match}
        mine = by is None or f["source"].split("/")[2].startswith(f"{by}-")
        if mine and all(f[k] == v for k, v in wanted.items()):
            return f


def _start_supervisor(system: System, procs: list) -> Proc:
    proc = system.start("-m", "services.ingest")
    procs.append(proc)
    assert proc.ready["service"] == "ingest"
    assert proc.ready["channels"] == "2"
    return proc


def test_killed_relay_is_restarted_and_status_shows_it(system: System, procs: list) -> None:
    procs.append(system.start("-m", "services.bus"))
    with _ingest_events(system) as sub:
        supervisor = _start_supervisor(system, procs)
        started = _next_action(sub, "example", "started")
        pid = started["pid"]
        assert relay_pids(system.data_dir, "example") == [pid]
        os.kill(pid, signal.SIGKILL)
        exited = _next_action(sub, "example", "exited")
        assert (exited["pid"], exited["signal"], exited["exit_code"]) == (pid, "SIGKILL", None)
        backoff = _next_action(sub, "example", "backoff")
        assert backoff["delay_s"] == 0.5
        restarted = _next_action(sub, "example", "started")
        assert restarted["restarts"] == 1 and restarted["pid"] != pid
    assert relay_pids(system.data_dir, "example") == [restarted["pid"]]

    def restart_in_status() -> dict | None:
        done = subprocess.run(
            [PY, "-m", "speeddata", "status", "--json"],
            env=system.env, capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        rows = {r["channel"]: r for r in map(json.loads, done.stdout.splitlines())}
        row = rows["example"]
        return row if row["restarts"] == 1 and row["relay"] == "started" else None

    row = wait_until(restart_in_status, what="sdctl status showing the restart")
    assert row["state"] == "running"
    relays = [p for c in system.ports for p in relay_pids(system.data_dir, c)]
    assert supervisor.stop() == 0  # SIGTERM: stops its relays, exits 0
    assert not any(map(alive, relays))


def test_killed_supervisor_leaves_no_relay_and_a_new_one_no_duplicate(
    system: System, procs: list
) -> None:
    procs.append(system.start("-m", "services.bus"))
    first = _start_supervisor(system, procs)
    pids = {c: wait_until(lambda c=c: relay_pids(system.data_dir, c)) for c in system.ports}
    first.kill()  # its lock goes with it; its relays die with it
    for channel_pids in pids.values():
        wait_until(lambda p=channel_pids: not any(map(alive, p)), what="relays to exit")

    with _ingest_events(system) as sub:
        second = _start_supervisor(system, procs)
        started = _next_action(sub, "example", "started", by=second.pid)
        assert relay_pids(system.data_dir, "example") == [started["pid"]]
    assert len(wait_until(lambda: relay_pids(system.data_dir, "temperature"))) == 1
    assert (system.data_dir / "run" / "ingest.lock").read_text() == f"{second.pid}\n"


def test_a_second_supervisor_for_the_data_dir_exits_at_once(system: System, procs: list) -> None:
    first = _start_supervisor(system, procs)
    relays = {c: wait_until(lambda c=c: relay_pids(system.data_dir, c)) for c in system.ports}
    second = system.start("-m", "services.ingest", wait_ready=False)
    procs.append(second)
    assert second.popen.wait(EVENT_TIMEOUT) == 2 and second.stop() == 2  # stop: all lines read
    lines = [line for line in second.lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("event=error service=ingest"), lines
    assert f"another ingest supervisor (pid {first.pid})" in parse_line(lines[0])["error"]
    assert {c: relay_pids(system.data_dir, c) for c in system.ports} == relays
    assert first.popen.poll() is None


def test_sender_datagrams_are_archived_record_for_record(system: System, procs: list) -> None:
    procs.append(system.start("-m", "services.bus"))
    _start_supervisor(system, procs)
    schema = ROOT / "config" / "agents" / "example.avsc"
    port = system.ports["example"]
    records = demo_records("example", seed=7)
    sent = []
    with Sender(schema, "127.0.0.1", port, encoding="bare") as bare:
        for _ in range(20):
            sent.append(next(records))
            bare.send(sent[-1])
    with Sender(schema, "127.0.0.1", port, encoding="single-object") as single:
        for _ in range(20):
            sent.append(next(records))
            single.send(sent[-1])
    for encoding in ("bare", "single-object"):
        with Sender(schema, "127.0.0.1", port, encoding=encoding, max_datagram=600) as packed:
            batch = [next(records) for _ in range(25)]
            assert packed.send_many(batch) < len(batch)  # several records per datagram
            sent += batch
    archived = wait_until(
        lambda: (got := system.archived("example")) and len(got) >= len(sent) and got,
        what=f"{len(sent)} archived records",
    )
    assert [{k: v for k, v in r.items() if k != "rx_time"} for r in archived] == sent
    assert all(isinstance(r["rx_time"], int) for r in archived)


def _relay_end(supervisor: Proc, channel: str) -> dict[str, str]:
    """The fields of the supervisor's next `event=relay_exited` log line for `channel`."""
    line = supervisor.wait_line(
        lambda s: s.startswith("event=relay_exited ") and f" channel={channel} " in s
    )
    return parse_line(line)


def test_a_killed_relay_is_logged_with_its_signal_and_last_error_line(
    system: System, procs: list
) -> None:
    """The relay's last line is not an error (archive_resumed); its last error line is."""
    (system.data_dir / "archive").mkdir(parents=True)
    blocker = system.data_dir / "archive" / "example"
    blocker.write_text("a file where the relay wants its archive dir")
    procs.append(system.start("-m", "services.bus"))
    with _ingest_events(system) as sub:
        supervisor = _start_supervisor(system, procs)
        pid = _next_action(sub, "example", "started")["pid"]
        schema = ROOT / "config" / "agents" / "example.avsc"
        records = demo_records("example", seed=3)
        with Sender(schema, "127.0.0.1", system.ports["example"]) as sender:
            sender.send(next(records))
            fault = supervisor.wait_line(lambda s: "event=archive_fault" in s)
            blocker.unlink()

            def resumed() -> bool:
                sender.send(next(records))
                return any("event=archive_resumed" in s for s in supervisor.lines)

            wait_until(resumed, interval=0.2, what="the relay to archive again")
        os.kill(pid, signal.SIGKILL)
        ended = _relay_end(supervisor, "example")
        event = _next_action(sub, "example", "exited")
    last_error = fault.removeprefix("channel=example ")
    assert last_error.startswith("event=archive_fault channel=example reason=")
    assert (ended["pid"], ended["signal"], ended["detail"]) == (str(pid), "SIGKILL", last_error)
    assert "exit_code" not in ended
    assert (event["signal"], event["detail"]) == ("SIGKILL", last_error)


def test_a_relay_that_cannot_start_is_logged_with_its_exit_status_and_error(
    system: System, procs: list
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", system.ports["example"]))
        supervisor = _start_supervisor(system, procs)
        ended = _relay_end(supervisor, "example")
    fatal = supervisor.wait_line(lambda s: s.startswith("channel=example event=fatal "))
    assert ended["exit_code"] != "0" and "signal" not in ended
    assert ended["detail"] == parse_line(fatal)["error"]
    assert str(system.ports["example"]) in ended["detail"], ended
