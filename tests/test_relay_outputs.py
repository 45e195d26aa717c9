"""The relay's outputs besides the archive — full-rate and decimated multicast, and its bus
events — checked end to end against the real relay on loopback, including under faults: the
bus going away, the parent dying, an unwritable data dir, multicast that cannot send."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from speeddata import archive
from speeddata.bus import Subscriber
from speeddata.schema import fingerprint
from tests.outputtools import (
    TIMEOUT,
    BusCollector,
    McastReceiver,
    decimate,
    decode_batch,
    pack_records,
)
from tests.procs import Proc, start, wait_until
from tests.relaytools import (
    CHANNEL,
    PROBE_SCHEMA,
    Relay,
    encode_fastavro,
    probe_record,
    relay_argv,
    single_object,
    start_relay,
    write_schema,
)

STATUS = f"relay.status.{CHANNEL}"
FILE = f"relay.file.{CHANNEL}"
ERROR = f"relay.error.{CHANNEL}"
DATA = f"data.{CHANNEL}"
EPHEMERAL = "tcp://127.0.0.1:0"


@pytest.fixture
def bus() -> Iterator[BusCollector]:
    collector = BusCollector()
    yield collector
    collector.stop()


@pytest.fixture
def groups() -> Iterator[list[McastReceiver]]:
    """Append receivers here; they are closed at teardown."""
    made: list[McastReceiver] = []
    yield made
    for r in made:
        r.close()


def _receiver(groups: list[McastReceiver]) -> McastReceiver:
    r = McastReceiver()
    groups.append(r)
    return r


def _relay(procs: list[Proc], binary: Path, data: Path, bus: BusCollector, *extra: str) -> Relay:
    """A relay publishing to `bus`, once its first status arrived (it is on the bus)."""
    relay = start_relay(procs, binary, data, f"--bus={bus.endpoint}", *extra)
    bus.wait(STATUS)
    return relay


def _grams(records: list[dict[str, Any]], per: int = 1) -> list[bytes]:
    return [
        b"".join(encode_fastavro(PROBE_SCHEMA, r) for r in records[i : i + per])
        for i in range(0, len(records), per)
    ]


def _no_rx(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "rx_time"} for r in records]


def test_full_rate_group_gets_every_good_datagram_and_status_counts_match(
    relay_binary, procs, tmp_path, bus, groups
):
    full, dec = _receiver(groups), _receiver(groups)
    relay = _relay(
        procs, relay_binary, tmp_path / "data", bus,
        f"--mcast-full={full.endpoint}", f"--mcast-dec={dec.endpoint}",
    )  # fmt: skip
    records = [probe_record(i) for i in range(60)]
    good = _grams(records[:30]) + _grams(records[30:], per=5)
    bad = {
        "empty": [b"", b""],
        "truncated": [good[0][:-1], good[1][:3], good[2] + good[3][:4]],
        "trailing": [single_object(PROBE_SCHEMA, good[4]) + b"\xc3"],
    }
    bad_grams = [g for gs in bad.values() for g in gs]
    sent = []  # good, bad, good, bad, ..., then the rest of the good ones
    for i, g in enumerate(good):
        sent += [g, bad_grams[i]] if i < len(bad_grams) else [g]
    relay.send(sent)

    assert full.receive(len(good)) == good
    assert full.extra() == [], "the full-rate group got more than the good datagrams"
    dec_grams, dec_records = dec.receive_records(PROBE_SCHEMA, 60)
    assert dec_records == records, "the decimated group must carry every record, in order"
    assert max(map(len, dec_grams)) <= 1472, "decimated datagrams of at most dec_max_bytes"

    status = bus.wait(STATUS, lambda f: f["archived"] == 60 and f["received"] == len(sent))
    expect_rejected = {reason: 0 for reason in status["rejected"]}
    expect_rejected.update({reason: len(gs) for reason, gs in bad.items()})
    counts = {k: status[k] for k in ("received", "bytes", "records", "forwarded", "decimated")}
    assert counts == {
        "received": len(sent),
        "bytes": sum(map(len, sent)),
        "records": 60,
        "forwarded": len(good),
        "decimated": 60,
    }
    assert status["rejected"] == expect_rejected
    assert (status["unarchived"], status["mcast_errors"], status["files"]) == (0, 0, 1)
    assert (status["state"], status["reason"]) == ("running", "")
    assert status["current_file"] == str(relay.files()[0])
    assert status["source"].startswith(f"relay/{CHANNEL}/{relay.proc.pid}-")
    seqs = [e["seq"] for e in bus.of(STATUS) + bus.of(DATA) + bus.of(FILE)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), "seq must count every event from 1"


@pytest.mark.parametrize(
    ("algorithm", "n"),
    [("downsample", 3), ("mean", 4), ("average", 4), ("minmax", 5), ("rms", 3)],
)
def test_decimated_group_and_data_events_carry_the_decimated_records(
    relay_binary, procs, tmp_path, bus, groups, algorithm, n
):
    dec = _receiver(groups)
    relay = _relay(
        procs, relay_binary, tmp_path / "data", bus,
        f"--mcast-dec={dec.endpoint}", f"--decimate={n}", f"--algorithm={algorithm}",
    )  # fmt: skip
    records = [probe_record(i) for i in range(43)]
    for r in records[8:16]:  # a whole window of nulls in the nullable field, for every n here
        r["maybe"] = None
    relay.send(_grams(records[:10]) + _grams(records[10:], per=3))
    expected = decimate(records, PROBE_SCHEMA, algorithm, n)

    _, got = dec.receive_records(PROBE_SCHEMA, len(expected))
    assert got == [rec for _, rec in expected]
    assert dec.extra() == [], "more decimated records than the windows give"

    archived = relay.wait_archived(len(records))
    batches = wait_until(
        lambda: (b := bus.of(DATA)) and sum(x["count"] for x in b) >= len(expected) and b,
        what="data events with every decimated record",
    )
    assert {b["fingerprint"] for b in batches} == {fingerprint(PROBE_SCHEMA)}
    data = [r for b in batches for r in decode_batch(PROBE_SCHEMA, b)]
    assert _no_rx(data) == [rec for _, rec in expected]
    assert [r["rx_time"] for r in data] == [archived[i]["rx_time"] for i, _ in expected]
    bus.wait(STATUS, lambda f: f["records"] == len(records) and f["decimated"] == len(expected))


@pytest.mark.parametrize("budget", [None, 200, 60, 0])
def test_decimated_records_are_packed_up_to_dec_max_bytes(
    relay_binary, procs, tmp_path, bus, groups, budget
):
    """Records of one received datagram go out together: back to back, as many as fit in
    --dec-max-bytes (default 1472), never split, a record of the budget or more alone, 0 one
    record per datagram; the last, partly filled datagram is sent by the flush timer."""
    dec = _receiver(groups)
    flag = [] if budget is None else [f"--dec-max-bytes={budget}"]
    relay = _relay(
        procs, relay_binary, tmp_path / "data", bus, f"--mcast-dec={dec.endpoint}", *flag
    )
    records = [probe_record(i) for i in range(60)]
    encoded = [encode_fastavro(PROBE_SCHEMA, r) for r in records]
    relay.send([b"".join(encoded)])
    expected = pack_records(encoded, 1472 if budget is None else budget)
    assert dec.receive(len(expected)) == expected
    assert dec.extra() == []

    more = [probe_record(i) for i in range(60, 2060)]
    relay.send(_grams(more, per=8))
    grams, got = dec.receive_records(PROBE_SCHEMA, len(more))
    assert got == more, "every record, in order"
    biggest = max(len(encode_fastavro(PROBE_SCHEMA, r)) for r in more)
    assert max(map(len, grams)) <= max(1472 if budget is None else budget, biggest)
    relay.wait_archived(len(records) + len(more))
    bus.wait(STATUS, lambda f: f["decimated"] == len(records) + len(more))


def test_file_events_match_the_files_on_disk(relay_binary, procs, tmp_path, bus):
    relay = _relay(procs, relay_binary, tmp_path / "data", bus, "--rotate-bytes=4096")
    records = [probe_record(i) for i in range(150)]
    relay.send(_grams(records))
    relay.wait_archived(len(records))
    relay.stop()
    last = bus.wait(STATUS, lambda f: f["reason"] == "stopping")
    assert last["state"] == "running"

    files = relay.files()
    assert len(files) >= 3, "rotation by size should have made several files"
    assert last["files"] == len(files) and last["archived"] == len(records)
    events = bus.of(FILE)
    assert [e["path"] for e in events if e["state"] == "opened"] == [str(p) for p in files]
    closed = [e for e in events if e["state"] == "closed"]
    assert [e["path"] for e in closed] == [str(p) for p in files]
    for event, path in zip(closed, files, strict=True):
        recs = archive.read_records(path)
        assert event["records"] == len(recs)
        assert event["bytes"] == path.stat().st_size
        assert (event["first_rx_time"], event["last_rx_time"]) == (
            recs[0]["rx_time"],
            recs[-1]["rx_time"],
        )
        assert (event["first_device_time"], event["last_device_time"]) == (
            recs[0]["time"],
            recs[-1]["time"],
        )
        assert event["time_unit"] == "ns"


def test_bus_goes_away_and_comes_back(relay_binary, procs, tmp_path, bus):
    relay = _relay(procs, relay_binary, tmp_path / "data", bus)
    port = bus.port
    bus.stop()

    records = [probe_record(i) for i in range(60)]
    relay.send(_grams(records[:50]))
    relay.wait_archived(50)
    time.sleep(1.5)  # statuses fall due while the bus is away

    back = BusCollector(port)
    try:
        first = back.wait(STATUS)
        assert first["state"] == "degraded" and "bus" in first["reason"], first
        assert first["bus_dropped"] > 0 and first["archived"] == 50
        relay.send(_grams(records[50:]))
        batches = wait_until(
            lambda: (b := back.of(DATA)) and sum(x["count"] for x in b) >= 10 and b,
            what="data events after the bus came back",
        )
        assert _no_rx([r for b in batches for r in decode_batch(PROBE_SCHEMA, b)]) == records[50:]
        back.wait(STATUS, lambda f: f["state"] == "running" and f["archived"] == 60)
    finally:
        back.stop()


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie not yet reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_relay_exits_when_its_parent_dies(relay_binary, procs, tmp_path, bus):
    schema = write_schema(tmp_path / "schemas", PROBE_SCHEMA)
    argv = relay_argv(relay_binary, schema, tmp_path / "data")
    argv += ["--die-with-parent", f"--bus={bus.endpoint}"]
    parent_code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(sys.argv[1:])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = start([sys.executable, "-c", parent_code, *argv])
    procs.append(parent)
    relay_pid = int(wait_until(lambda: parent.stdout_lines and parent.stdout_lines[0]))
    assert int(parent.ready["pid"]) == relay_pid
    try:
        bus.wait(STATUS)
        os.kill(parent.pid, signal.SIGKILL)
        wait_until(lambda: _gone(relay_pid), what="the relay to exit after its parent died")
        bus.wait(STATUS, lambda f: f["reason"].startswith("stopping"))
    finally:
        if not _gone(relay_pid):
            os.kill(relay_pid, signal.SIGKILL)


def test_unwritable_data_dir_degrades_then_recovers(relay_binary, procs, tmp_path, bus):
    data = tmp_path / "data"
    data.mkdir()
    blocker = data / "archive"
    blocker.write_text("a file where the archive directory belongs")
    relay = _relay(procs, relay_binary, data, bus)
    records = [probe_record(i) for i in range(200)]
    relay.send(_grams(records[:10]))

    bad = bus.wait(STATUS, lambda f: f["state"] == "degraded" and "archive" in f["reason"])
    assert bad["archived"] == 0
    error = bus.wait(ERROR)
    assert error["kind"] in ("mkdir", "open") and error["errno"] != 0

    blocker.unlink()
    sent = 10

    def archiving_again() -> dict[str, Any] | None:
        nonlocal sent
        relay.send(_grams(records[sent : sent + 1]))
        sent += 1
        statuses = bus.of(STATUS)
        return next((s for s in statuses if s["state"] == "running" and s["archived"]), None)

    good = wait_until(archiving_again, interval=0.1, what="archiving to resume")
    assert good["unarchived"] >= 10 and good["reason"] == ""
    assert relay.files(), "no archive file after the data dir was fixed"


def test_unwritable_quarantine_is_reported_then_recovers(relay_binary, procs, tmp_path, bus):
    data = tmp_path / "data"
    data.mkdir()
    blocker = data / "quarantine"
    blocker.write_text("a file where the quarantine directory belongs")
    relay = _relay(procs, relay_binary, data, bus)
    relay.send([b"\xff" * 12, b""])

    error = bus.wait(ERROR, lambda f: f["kind"] == "quarantine")
    assert error["errno"] != 0 and error["path"] == str(blocker)
    bad = bus.wait(STATUS, lambda f: f["quarantine_dropped"] == 2)
    assert bad["state"] == "degraded" and "quarantine: " in bad["reason"], bad

    blocker.unlink()
    relay.send([b"\xff" * 12])
    good = bus.wait(STATUS, lambda f: f["quarantined"] == 1)
    assert good["state"] == "running" and good["reason"] == "", good
    assert len(bus.of(ERROR)) == 1, "one fault, one error event"
    assert len(relay.quarantine()) == 1


def test_multicast_errors_are_counted_reported_and_not_fatal(
    relay_binary, procs, tmp_path, bus, groups
):
    full = _receiver(groups)
    # 192.0.2.1 (TEST-NET-1) is no local address: the kernel refuses it as the interface
    relay = _relay(
        procs, relay_binary, tmp_path / "data", bus,
        f"--mcast-full={full.endpoint}", "--mcast-if=192.0.2.1",
    )  # fmt: skip
    records = [probe_record(i) for i in range(20)]
    relay.send(_grams(records))

    status = bus.wait(STATUS, lambda f: f["mcast_errors"] == 20 and f["archived"] == 20)
    assert status["state"] == "degraded" and "multicast" in status["reason"], status
    assert status["forwarded"] == 0
    error = bus.wait(ERROR, lambda f: f["kind"] == "mcast")
    assert error["errno"] != 0 and full.endpoint in error["detail"]
    assert full.extra(0.2) == []
    stopped = relay.stop()
    assert (stopped["archived"], stopped["mcast_errors"], stopped["forwarded"]) == ("20", "20", "0")
    last = bus.wait(STATUS, lambda f: f["reason"].startswith("stopping"))
    assert last["state"] == "degraded" and last["reason"].startswith("stopping; multicast "), last


def _data_until(sub: Subscriber, enough: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    """The records of the data events `sub` receives until `enough(records)`; fails loudly."""
    data: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    while not enough(data):
        assert time.monotonic() < deadline, f"only {len(data)} records in data events"
        event = sub.recv(0.1)
        if event is not None:
            data += decode_batch(PROBE_SCHEMA, event.fields)
    return data


def test_events_flow_through_the_real_bus_proxy(relay_binary, procs, tmp_path):
    """relay -> services.bus -> speeddata.bus.Subscriber: the data subscription travels up to
    the relay, the records come down, and a late joiner gets the relay's status at once."""
    proxy = start([sys.executable, "-m", "services.bus", "--xsub", EPHEMERAL, "--xpub", EPHEMERAL])
    procs.append(proxy)
    xpub = proxy.ready["xpub"]
    relay = start_relay(procs, relay_binary, tmp_path / "data", f"--bus={proxy.ready['xsub']}")
    records = [probe_record(1000 + i) for i in range(30)]
    with Subscriber(DATA, endpoint=xpub) as sub:
        # the subscription reaches the relay through the proxy a moment after it is made
        wait_until(
            lambda: relay.send(_grams([probe_record(0)])) and sub.recv(0.05),
            what="a first data event through the proxy",
        )
        relay.send(_grams(records, per=3))
        data = _data_until(sub, lambda got: sum(r["counter"] >= 1000 for r in got) == len(records))
    assert _no_rx([r for r in data if r["counter"] >= 1000]) == records
    with Subscriber(STATUS, endpoint=xpub) as late:
        status = late.recv(TIMEOUT)
    assert status is not None and status.fields["source"].startswith(f"relay/{CHANNEL}/")
    assert status.fields["source"].split("/")[2].startswith(f"{relay.proc.pid}-")
