"""sdctl events: topics that can never arrive, the bus connect timeout, and the losses of a
reader too slow to keep up (a paused pager), reported on stderr while stdout stays JSON."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from speeddata.bus import Publisher
from speeddata.config import ROOT, load_settings
from tests.system import PY, System, make_system

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary, bus={"hwm": 10})


def sdctl(system: System, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "speeddata", *args],
        env={**system.env, **env}, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sdctl: error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("topic", ["nosuch", "relay.nosuch", "relay.status.example.x"])
def test_a_topic_nothing_can_match_is_one_line(system: System, topic: str) -> None:
    started = time.monotonic()
    line = one_error_line(sdctl(system, "events", "--topic", "relay", "--topic", topic))
    assert f"no bus topic matches {topic!r}" in line and "proto/topics.yaml" in line
    assert time.monotonic() - started < 10, "said at once, without waiting for the bus"


@pytest.mark.parametrize("topic", ["relay.status", "relay.status.example", "bus", "data.example"])
def test_listed_topics_wait_for_the_bus_as_long_as_the_setting_says(
    system: System, topic: str
) -> None:
    started = time.monotonic()
    done = sdctl(system, "events", "--topic", topic, SPEEDDATA__BUS__CONNECT_TIMEOUT_S="0.5")
    line = one_error_line(done)
    assert "cannot reach the bus at" in line and "within 0.5 s" in line
    assert time.monotonic() - started < 10


def test_a_connect_timeout_that_is_not_positive_is_one_line(system: System) -> None:
    line = one_error_line(sdctl(system, "events", SPEEDDATA__BUS__CONNECT_TIMEOUT_S="0"))
    assert "bus.connect_timeout_s must be a number > 0" in line


FLOOD_BYTES = 96 * 1024 * 1024
GAP_LINE = re.compile(r"sdctl: lost (\d+) events? of (\S+) \(seq (\d+)(?: to (\d+))?\)")


def flood_events(lines: list[str], source: str) -> list[dict]:
    events = [json.loads(line) for line in lines if line.startswith('{"topic": "data.flood"')]
    return [e for e in events if e["source"] == source]


def test_a_paused_reader_reports_its_losses_on_stderr(system: System, procs: list) -> None:
    bus = system.start("-m", "services.bus")
    procs.append(bus)
    events = subprocess.Popen(
        [PY, "-m", "speeddata", "events"],
        env=system.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = events.stdout, events.stderr
        assert stdout is not None and stderr is not None
        assert json.loads(stdout.readline())["topic"] == "bus.status"
        # From here on nobody reads sdctl's stdout: its first data line fills the pipe.
        settings = load_settings(config_file=system.config).override(bus={"hwm": 10000})
        batch = {"channel": "flood", "fingerprint": "8f5c393f1ad57572", "count": 0,
                 "records": bytes(64 * 1024)}  # fmt: skip
        with Publisher("tool", "flood", settings) as flood:
            time.sleep(0.5)  # the publisher's subscriptions arrive
            while flood.sent * 64 * 1024 < FLOOD_BYTES:
                flood.publish("data.flood", batch)
                if flood.seq % 40 == 0:
                    time.sleep(0.02)
            out: list[str] = []
            reader = threading.Thread(target=lambda: out.extend(stdout), daemon=True)
            reader.start()  # the reader comes back
            lines: list[str] = []
            errs = threading.Thread(target=lambda: lines.extend(stderr), daemon=True)
            errs.start()
            # The flood's next events show what sdctl lost at the end of its backlog too.
            last, small = flood.seq, {**batch, "records": b""}
            deadline = time.monotonic() + 30
            while not any(e["seq"] > last for e in flood_events(out[-5:], flood.source)):
                assert time.monotonic() < deadline, f"the flood's end never came: {lines}"
                flood.publish("data.flood", small)
                time.sleep(0.05)
        time.sleep(1.0)
        events.send_signal(signal.SIGINT)
        assert events.wait(15) == 130
        reader.join(5)
        errs.join(5)
    finally:
        if events.poll() is None:
            events.kill()
            events.wait()

    assert all(json.loads(line) for line in out), "stdout: JSON lines only"
    lines = [s.rstrip("\n") for s in lines]
    seqs = {e["seq"] for e in flood_events(out, flood.source)}
    gaps = [GAP_LINE.match(s) for s in lines]
    flood_lost = sum(int(m[1]) for m in gaps if m is not None and m[2] == flood.source)
    assert flood_lost == max(seqs) - min(seqs) + 1 - len(seqs) > 0
    total = sum(int(m[1]) for m in gaps if m is not None)
    summary = [s for s in lines if s.startswith("sdctl: lost") and " in " in s]
    assert summary and summary[-1].startswith(f"sdctl: lost {total} events in "), lines
    assert all(GAP_LINE.match(s) for s in lines[:-1]), "stderr: gap lines, then the summary"
    assert flood.source in summary[-1]
    assert lines[-1] == summary[-1], "the summary comes last"
