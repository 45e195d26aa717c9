"""Rotation, live reading and crash recovery of the real relay's archive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from speeddata import archive
from tests.procs import wait_until
from tests.relaytools import assert_three_readers_agree, events, probe_datagrams, start_relay


class _Sender(threading.Thread):
    """Sends records 0, 1, 2, ... one per datagram at a modest pace until stopped."""

    def __init__(self, relay) -> None:
        super().__init__(daemon=True)
        self.relay = relay
        self.sent = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sent += self.relay.send(probe_datagrams(self.sent, 50))
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def test_rotation_under_load_loses_and_duplicates_nothing(relay_binary, procs, tmp_path):
    relay = start_relay(
        procs, relay_binary, tmp_path / "data", "--rotate-bytes=20000", "--rotate-seconds=1"
    )
    total = 0
    for round_ in range(30):  # about 3 s: rotations by size and by time
        relay.send(probe_datagrams(total, 200, per_datagram=1 + round_ % 4))
        total += 200
        time.sleep(0.1)
    relay.wait_archived(total)
    stopped = relay.stop()

    files = relay.files()
    assert len(files) >= 5, f"only {len(files)} files"
    counters = [r["counter"] for p in files for r in archive.read_records(p)]
    assert counters == list(range(total)), "records lost, duplicated or reordered across files"
    seqs = [archive.parse_archive_name(p.name).seq for p in files]
    assert seqs == sorted(set(seqs))
    assert stopped["files"] == str(len(files))
    assert stopped["kernel_drops"] == "0"
    for p in files:
        with archive.open_archive(p) as f:
            assert f.torn_bytes == 0, f"closed file {p.name} is not whole"
            assert f.record_count > 0
    assert_three_readers_agree(files[len(files) // 2])


def test_rotation_by_time_alone(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data", "--rotate-seconds=1")
    relay.send(probe_datagrams(0, 5))
    relay.wait_archived(5)
    time.sleep(1.5)
    relay.send(probe_datagrams(5, 5))
    relay.wait_archived(10)
    relay.stop()

    files = relay.files()
    assert len(files) == 2
    assert [[r["counter"] for r in archive.read_records(p)] for p in files] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
    ]


def test_a_file_being_written_reads_through_speeddata_archive(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    sender = _Sender(relay)
    sender.start()
    try:
        seen: list[int] = []
        deadline = time.monotonic() + 15
        while len(set(seen)) < 5 and time.monotonic() < deadline:
            files = relay.files()
            if files:
                counters = [r["counter"] for r in archive.read_records(files[-1])]
                assert counters == list(range(len(counters))), "not a prefix of what was sent"
                seen.append(len(counters))
            time.sleep(0.05)
    finally:
        sender.stop()
    assert len(relay.files()) == 1
    assert events(relay.proc, "file_closed") == [], "the file was closed while being read"
    assert len(set(seen)) >= 5 and seen == sorted(seen), f"the file did not grow: {seen}"
    relay.stop()


def _blocks(path: Path) -> int:
    """Complete blocks in the file (0 when not even its header is whole)."""
    try:
        with archive.open_archive(path) as f:
            return len(list(f.blocks()))
    except archive.IncompleteHeader:
        return 0


def _tear(path: Path) -> int:
    """Appends the first half of the file's last block, as a write cut by a crash would leave
    it; returns the bytes appended."""
    with archive.open_archive(path) as f:
        last = list(f.blocks())[-1]
    data = path.read_bytes()
    torn = data[last.offset : last.offset + (last.end - last.offset) // 2]
    with open(path, "ab") as out:
        out.write(torn)
    return len(torn)


def test_kill_9_under_load_then_a_new_relay_leaves_every_file_readable(
    relay_binary, procs, tmp_path
):
    data = tmp_path / "data"
    first = start_relay(procs, relay_binary, data, "--rotate-bytes=50000")
    sender = _Sender(first)
    sender.start()
    try:
        first.wait_archived(1500)
        first.proc.kill()
    finally:
        sender.stop()
    newest = first.files()[-1]
    # Killed between a new file's header and its first block, the file is removed whole.
    cut = _tear(newest) if _blocks(newest) else newest.stat().st_size

    second = start_relay(procs, relay_binary, data, "--rotate-bytes=50000")
    repairs = events(second.proc, "archive_error")
    assert [(e["what"], Path(e["path"]).name, e["bytes"]) for e in repairs] == [
        ("repair", newest.name, str(cut))
    ]
    second.send(probe_datagrams(100_000, 10))
    wait_until(
        lambda: any(r["counter"] == 100_009 for r in second.archived()),
        what="the new relay archiving",
    )
    second.stop()

    counters = []
    for p in second.files():
        counters += [r["counter"] for r in assert_three_readers_agree(p)]
    before = [c for c in counters if c < 100_000]
    assert before == list(range(len(before))), "records lost inside or duplicated by the crash"
    assert len(before) >= 1500
    assert counters[len(before) :] == list(range(100_000, 100_010))
