"""The relay's command line, readiness line and start-up faults: a relay that cannot start
says why in one line and exits non-zero; once ready it only stops on a signal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import parse_logfmt, start, wait_until
from tests.relaytools import (
    PROBE_SCHEMA,
    encode_fastavro,
    probe_record,
    relay_argv,
    run_to_exit,
    start_relay,
    write_schema,
)


def _one_fatal_line(result: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got: {result.stderr!r}"
    assert result.returncode != 0 if code is None else result.returncode == code
    assert not lines[0].startswith("event=ready")
    assert parse_logfmt(lines[0]).get("event") == "fatal", lines[0]
    return lines[0]


def test_ready_line_shows_the_bound_port_and_endpoints(relay_binary, procs, tmp_path):
    data = tmp_path / "data"
    relay = start_relay(
        procs, relay_binary, data, "--mcast-full=239.255.7.1:36001", "--mcast-dec=239.255.7.2:37001"
    )
    ready = relay.proc.ready
    assert ready["service"] == "relay"
    assert ready["pid"] == str(relay.proc.pid)
    assert ready["channel"] == "probe"
    host, port = ready["udp"].rsplit(":", 1)
    assert host == "127.0.0.1" and 0 < int(port) < 65536
    assert (ready["mcast_full"], ready["mcast_dec"]) == ("239.255.7.1:36001", "239.255.7.2:37001")
    assert ready["data_dir"] == str(data)
    assert (data / "run" / "probe.lock").read_text().strip() == str(relay.proc.pid)
    assert relay.stop()["received"] == "0"


def test_ready_line_without_multicast_shows_dashes(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    assert (relay.proc.ready["mcast_full"], relay.proc.ready["mcast_dec"]) == ("-", "-")


def test_every_contract_flag_is_accepted(relay_binary, procs, tmp_path):
    relay = start_relay(
        procs,
        relay_binary,
        tmp_path / "data",
        "--mcast-full=239.255.7.1:36001",
        "--mcast-dec=239.255.7.2:37001",
        "--mcast-if=127.0.0.1",
        "--mcast-ttl=0",
        "--decimate=10",
        "--algorithm=average",
        "--rotate-seconds=30",
        "--rotate-bytes=1000000",
        "--time-unit=ms",
        "--bus=tcp://127.0.0.1:1",
        "--rcvbuf=1048576",
        "--quarantine-bytes=4096",
        "--die-with-parent",
    )
    relay.send([encode_fastavro(PROBE_SCHEMA, probe_record(1))])
    relay.wait_archived(1)
    assert relay.stop()["archived"] == "1"


@pytest.mark.parametrize(
    "flags",
    [
        ["--name=Bad"],
        ["--name=1abc"],
        ["--name=" + "a" * 64],
        ["--port=65536"],
        ["--port=abc"],
        ["--port=-1"],
        ["--fingerprint=xyz"],
        ["--fingerprint=8f5c393f1ad5757"],
        ["--algorithm=median"],
        ["--time-unit=h"],
        ["--mcast-full=10.0.0.1:36000"],
        ["--mcast-dec=239.1.1.2"],
        ["--mcast-dec=239.1.1.2:0"],
        ["--mcast-if=localhost"],
        ["--mcast-ttl=256"],
        ["--decimate=0"],
        ["--rotate-seconds=0"],
        ["--rotate-bytes=x"],
        ["--flush-ms=0"],
        ["--rcvbuf=12"],
        ["--bind=not-an-address"],
        ["--bus=nowhere"],
        ["--no-such-flag"],
        ["stray-argument"],
        ["--time-field"],
    ],
)
def test_bad_flags_give_one_line_and_exit_2(relay_binary, tmp_path, flags):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    result = run_to_exit(relay_argv(relay_binary, schema, tmp_path / "data") + flags)
    _one_fatal_line(result, 2)


@pytest.mark.parametrize("missing", ["--name", "--port", "--schema", "--data-dir"])
def test_missing_required_flag_gives_one_line_and_exit_2(relay_binary, tmp_path, missing):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    argv = [
        a for a in relay_argv(relay_binary, schema, tmp_path / "data") if a.split("=")[0] != missing
    ]
    line = _one_fatal_line(run_to_exit(argv), 2)
    assert missing in line


@pytest.mark.parametrize(
    "text",
    [
        None,  # no such file
        "{not json",
        '"long"',  # not a record
        '{"type": "record", "name": "r", "fields": [{"name": "rx_time", "type": "long"}]}',
        '{"type": "record", "name": "r", "fields": [{"name": "a", "type": "no_such_type"}]}',
    ],
)
def test_unusable_schema_gives_one_line_and_exits_non_zero(relay_binary, tmp_path, text):
    path = tmp_path / "schema.avsc"
    if text is not None:
        path.write_text(text)
    _one_fatal_line(run_to_exit(relay_argv(relay_binary, path, tmp_path / "data")))


def test_time_field_missing_from_the_schema_is_a_start_up_fault(relay_binary, tmp_path):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    argv = relay_argv(relay_binary, schema, tmp_path / "data") + ["--time-field=nope"]
    _one_fatal_line(run_to_exit(argv))


def test_busy_udp_port_gives_one_line_and_exits_non_zero(relay_binary, tmp_path):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = run_to_exit(relay_argv(relay_binary, schema, tmp_path / "data", port=port))
    line = _one_fatal_line(result)
    assert str(port) in line


def test_second_relay_for_the_same_channel_and_data_dir_refuses(relay_binary, procs, tmp_path):
    data = tmp_path / "data"
    first = start_relay(procs, relay_binary, data)
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    line = _one_fatal_line(run_to_exit(relay_argv(relay_binary, schema, data)))
    assert "lock" in line and str(first.proc.pid) in line

    # the first one is untouched and still archives
    first.send([encode_fastavro(PROBE_SCHEMA, probe_record(5))])
    assert [r["counter"] for r in first.wait_archived(1)] == [5]
    # the same channel in another data dir, or another channel in this one, may run
    start_relay(procs, relay_binary, tmp_path / "other")
    start_relay(procs, relay_binary, data, channel="probe2")


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def read_only_data() -> Iterator[tuple[Path, Path]]:
    """A data dir holding run/probe.lock that the user nobody may read but not write, and a
    schema nobody may read (pytest's own temp dirs are closed to other users)."""
    top = Path(tempfile.mkdtemp(prefix="zr_ro_"))
    try:
        top.chmod(0o755)
        data = top / "data"
        (data / "run").mkdir(parents=True)
        (data / "run" / "probe.lock").write_text("")
        yield data, write_schema(top, PROBE_SCHEMA)
    finally:
        shutil.rmtree(top)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the relay as nobody")
def test_read_only_data_dir_with_a_lock_file_still_locks(relay_binary, procs, read_only_data):
    data, schema = read_only_data
    argv = [*NOBODY, *relay_argv(relay_binary, schema, data)]
    procs.append(start(argv))
    line = _one_fatal_line(run_to_exit(argv))
    assert "already relayed" in line


def test_sigint_stops_like_sigterm(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    relay.send([encode_fastavro(PROBE_SCHEMA, probe_record(2))])
    relay.wait_archived(1)
    relay.proc.popen.send_signal(signal.SIGINT)
    assert relay.proc.popen.wait(15) == 0
    relay.proc.wait_line(lambda line: line.startswith("event=stopped"))


_PARENT = """
import subprocess, sys, time
log = open(sys.argv[1], "w")
child = subprocess.Popen(sys.argv[2:], stderr=log, stdin=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(60)
"""


def _state(pid: int) -> str:
    """The process state letter from /proc ('Z' zombie), or '' once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def test_die_with_parent_exits_when_the_parent_dies(relay_binary, tmp_path):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    log = tmp_path / "relay.log"
    argv = relay_argv(relay_binary, schema, tmp_path / "data") + ["--die-with-parent"]
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(log), *argv], stdout=subprocess.PIPE, text=True
    )
    relay_pid = int(parent.stdout.readline())
    try:
        wait_until(lambda: "event=ready" in log.read_text(), what="the relay's ready line")
        parent.kill()
        parent.wait(5)
        wait_until(lambda: _state(relay_pid) in ("", "Z"), what="the relay to exit")
    finally:
        if _state(relay_pid) not in ("", "Z"):
            os.kill(relay_pid, signal.SIGKILL)
        parent.stdout.close()
    assert "event=stopped" in log.read_text(), "the relay did not stop cleanly"


# -- the schema modes: the relay judges schemas for everyone ----------------------------------

DUPLICATE_FIELD = {
    "type": "record",
    "name": "r",
    "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "long"}],
}


def _schema_mode(relay_binary: Path, *args: str, stdin: str | None = None):
    return subprocess.run(
        [str(relay_binary), *args], input=stdin, capture_output=True, text=True, timeout=15
    )


def test_check_schema_accepts_with_ok_and_exit_0(relay_binary, tmp_path):
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    done = _schema_mode(relay_binary, "--check-schema", str(schema))
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
    done = _schema_mode(relay_binary, "--check-schema", str(schema), "--time-field=time")
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok time_unit=ns\n", "")
    done = _schema_mode(
        relay_binary, "--check-schema", "-", "--time-field=t", "--time-unit=ms",
        stdin=json.dumps({**DUPLICATE_FIELD, "fields": [{"name": "t", "type": "long"}]}),
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "ok time_unit=ms\n")


@pytest.mark.parametrize(
    ("args", "stdin", "reason"),
    [
        (["--check-schema", "-"], json.dumps(DUPLICATE_FIELD), 'field \\"a\\" is declared twice'),
        (["--check-schema", "-"], "{not json", "not valid JSON"),
        (["--check-schema", "-"], '"long"', "the top level is not a record"),
        (["--check-schema", "-", "--time-field=nope"], json.dumps(PROBE_SCHEMA), '\\"nope\\"'),
        (["--check-schema", "/no/such.avsc"], None, "cannot read the file"),
        (["--print-archive-schema", "--schema=-"], json.dumps(DUPLICATE_FIELD), "twice"),
        (["--check-schema", "-", "--time-unit=h"], "{}", "--time-unit"),
        (["--check-schema"], None, "needs a value"),
        (["--print-archive-schema"], None, "--schema is required"),
        (["--check-schema=-", "--schema=-"], None, "once"),
        (["--schema=-", "--check-schema=-"], None, "once"),
        (["--check-schema=-", "--print-archive-schema"], None, "only one of"),
    ],
)
def test_a_refused_schema_is_one_line_and_exit_2(relay_binary, args, stdin, reason):
    done = _schema_mode(relay_binary, *args, stdin=stdin)
    assert reason in _one_fatal_line(done, 2)
    assert done.stdout == ""


def test_print_archive_schema_puts_rx_time_first_and_binds_nothing(relay_binary, procs, tmp_path):
    data = tmp_path / "data"
    running = start_relay(procs, relay_binary, data)  # holds the lock and a port
    schema = write_schema(tmp_path, PROBE_SCHEMA)
    port = running.proc.ready["udp"].rsplit(":", 1)[1]
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    done = _schema_mode(
        relay_binary, "--print-archive-schema", "--name=probe", f"--port={port}",
        f"--schema={schema}", f"--data-dir={data}", "--time-field=time",
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    archived = json.loads(done.stdout)
    assert archived["fields"][0]["name"] == "rx_time"
    assert archived["fields"][1:] == PROBE_SCHEMA["fields"]
    assert archived["x-owner"] == PROBE_SCHEMA["x-owner"]
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    assert not (tmp_path / "elsewhere").exists()
    done = _schema_mode(
        relay_binary, "--check-schema", str(schema), f"--data-dir={tmp_path}/elsewhere"
    )
    assert done.returncode == 0 and not (tmp_path / "elsewhere").exists()
