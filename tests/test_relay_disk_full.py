"""A full disk is a runtime fault: the relay keeps receiving, counts what it could not archive,
says so, and archives again once there is space — its closed files whole all the while."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import wait_until
from tests.relaytools import assert_three_readers_agree, events, probe_datagrams, start_relay
from tests.tmpfs import fill, mounted_tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (needs root and the mount permission)."""
    with mounted_tmpfs(tmp_path / "disk", "2m") as mnt:
        yield mnt


def test_full_disk_counts_unarchived_and_resumes_when_space_is_freed(
    small_disk, relay_binary, procs
):
    relay = start_relay(procs, relay_binary, small_disk / "data")
    relay.send(probe_datagrams(0, 100))
    relay.wait_archived(100)

    dummy = small_disk / "dummy"
    fill(dummy)
    sent = 100
    relay.send(probe_datagrams(sent, 400))
    sent += 400
    fault = relay.proc.wait_line(lambda s: s.startswith("event=archive_fault"))
    assert 'reason="disk full"' in fault or "reason=disk" in fault, fault

    # still receiving while it cannot write
    relay.send(probe_datagrams(sent, 100))
    sent += 100
    dummy.unlink()

    first_after = sent

    def archiving_again() -> bool:
        nonlocal sent
        relay.send(probe_datagrams(sent, 10))
        sent += 10
        return any(r["counter"] >= first_after for r in relay.archived())

    wait_until(archiving_again, interval=0.2, what="archiving after space was freed")
    relay.proc.wait_line(lambda s: s.startswith("event=archive_resumed"))
    stopped = relay.stop()

    assert stopped["received"] == str(sent), "datagrams were not drained while the disk was full"
    assert stopped["records"] == str(sent)
    assert int(stopped["unarchived"]) > 0
    assert int(stopped["archived"]) + int(stopped["unarchived"]) == sent
    assert events(relay.proc, "archive_fault") and events(relay.proc, "archive_resumed")

    files = [str(p) for p in relay.files()]
    assert stopped["files"] == str(len(files)), "a file was counted that does not exist"
    assert [e["path"] for e in events(relay.proc, "file_opened")] == files
    assert [e["path"] for e in events(relay.proc, "file_closed")] == files

    counters = []
    for p in relay.files():
        counters += [r["counter"] for r in assert_three_readers_agree(p)]
    assert len(counters) == int(stopped["archived"])
    assert counters == sorted(set(counters)), "duplicated or reordered records"
    assert counters[:100] == list(range(100)), "records archived before the fault were lost"
    assert counters[-1] == sent - 1
