"""The janitor's rules on archive files of known times: TTL, quotas and the free-disk floor each
delete exactly the oldest eligible files; a file a relay writes, and the files a pending tag's
pin covers, are never deleted; a second pass or a restarted janitor deletes nothing more."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.archivefiles import write_archive_file
from services.janitor.files import disk_free
from services.janitor.main import dry_run
from services.janitor.retention import Janitor
from speeddata.config import Settings, load_settings
from speeddata.events import assert_event_listed
from speeddata.pins import pin_path, write_json_durably
from tests.relaytools import probe_datagrams, start_relay
from tests.tmpfs import mounted_tmpfs

S = 1_000_000_000


def settings_for(data_dir: Path, **janitor: Any) -> Settings:
    limits = {"ttl_s": 0, "quota_bytes": 0, "min_free_bytes": 0, "interval_s": 1.0, **janitor}
    return load_settings(data_dir=data_dir, environ={}).override(janitor=limits)


class Run:
    """A janitor in this process; its events kept."""

    def __init__(self, settings: Settings, configs: dict[str, dict[str, Any]] | None = None):
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.janitor = Janitor(settings, lambda t, f: self.events.append((t, f)))
        self.janitor.channel_configs = configs or {}

    def deleted(self) -> list[tuple[str, str]]:
        """(file name, reason) of each deletion of one pass."""
        return [(e.path.name, self._reason(e.path)) for e in self.janitor.run_pass()]

    def _reason(self, path: Path) -> str:
        return next(f["reason"] for t, f in reversed(self.events) if f.get("path") == str(path))


def make_files(data_dir: Path, channel: str, ages_s: list[float], pad: int = 0) -> list[Path]:
    """One file per age (seconds since its last record), oldest first, 10 records each."""
    now = time.time_ns()
    out = []
    for seq, age in enumerate(ages_s):
        last = now - int(age * S)
        out.append(
            write_archive_file(
                data_dir, channel, seq, [last - (9 - i) * S // 100 for i in range(10)], pad
            )
        )
    return out


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_ttl_deletes_exactly_the_files_past_it_and_a_second_pass_or_restart_nothing(tmp_path):
    data = tmp_path / "data"
    a = make_files(data, "alpha", [500, 400, 300, 200, 100])
    b = make_files(data, "beta", [350, 50])
    run = Run(settings_for(data, ttl_s=250))
    assert run.deleted() == [
        (a[0].name, "ttl"),
        (a[1].name, "ttl"),
        (b[0].name, "ttl"),
        (a[2].name, "ttl"),
    ]
    assert [p.exists() for p in a] == [False, False, False, True, True]
    assert b[1].exists()
    for topic, fields in run.events:
        assert_event_listed(topic, fields)
        assert topic == f"janitor.deleted.{fields['channel']}"
        assert fields["records"] == 10 and fields["age_s"] >= 250
    assert run.deleted() == []
    assert Run(settings_for(data, ttl_s=250)).deleted() == []


def test_channel_ttl_is_the_stricter_one(tmp_path):
    data = tmp_path / "data"
    a = make_files(data, "alpha", [500, 100, 10])
    b = make_files(data, "beta", [500, 100, 10])
    run = Run(settings_for(data, ttl_s=300), {"alpha": {"retention_ttl_s": 50}, "beta": {}})
    assert sorted(run.deleted()) == sorted(
        [(a[0].name, "channel_ttl"), (b[0].name, "ttl"), (a[1].name, "channel_ttl")]
    )


def test_quota_deletes_the_oldest_files_until_the_archive_fits(tmp_path):
    data = tmp_path / "data"
    a = make_files(data, "alpha", [90, 70, 50, 30], pad=1000)
    b = make_files(data, "beta", [80, 60, 40], pad=1000)
    sizes = {p: p.stat().st_size for p in a + b}
    total = sum(sizes.values())
    quota = total - sizes[a[0]] - sizes[b[0]] - 1  # the two oldest are not enough: three go
    run = Run(settings_for(data, quota_bytes=quota))
    assert run.deleted() == [(a[0].name, "quota"), (b[0].name, "quota"), (a[1].name, "quota")]
    assert run.deleted() == []


def test_channel_quota_takes_only_that_channels_oldest_files(tmp_path):
    data = tmp_path / "data"
    a = make_files(data, "alpha", [90, 70, 50, 30], pad=1000)
    b = make_files(data, "beta", [95, 85, 60], pad=1000)
    quota = sum(p.stat().st_size for p in a[2:])  # alpha may keep its two newest
    run = Run(settings_for(data), {"alpha": {"retention_quota_bytes": quota}})
    assert run.deleted() == [(a[0].name, "channel_quota"), (a[1].name, "channel_quota")]
    assert all(p.exists() for p in b)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "4m") as mnt:
        yield mnt


def test_floor_deletes_the_oldest_files_until_enough_is_free(small_disk):
    data = small_disk / "data"
    a = make_files(data, "alpha", [90, 70, 50, 30], pad=20_000)
    b = make_files(data, "beta", [80, 60, 40], pad=20_000)
    oldest = sorted(a + b, key=lambda p: p.stat().st_mtime_ns)
    blocks = [p.stat().st_blocks * 512 for p in oldest]
    free = disk_free(data)
    floor = free + blocks[0] + blocks[1] + blocks[2] // 2  # three must go
    run = Run(settings_for(data, min_free_bytes=floor))
    assert run.deleted() == [(p.name, "floor") for p in oldest[:3]]
    assert disk_free(data) >= floor
    assert run.deleted() == []
    assert Run(settings_for(data, min_free_bytes=floor)).deleted() == []


def test_a_pending_pin_keeps_its_files_through_a_one_second_ttl(tmp_path):
    data = tmp_path / "data"
    now = time.time_ns()
    files = make_files(data, "alpha", [50, 40, 30, 20, 10])
    other = make_files(data, "beta", [45])
    start, end = now - 41 * S, now - 29 * S  # the files ending 40 and 30 s ago
    pin = {"name": "keep", "channels": ["alpha"], "start_ns": start, "end_ns": end,
           "clock": "rx", "state": "pending"}  # fmt: skip
    write_json_durably(pin_path(data, "keep"), pin)
    run = Run(settings_for(data, ttl_s=1))
    deleted = run.deleted()
    assert sorted(deleted) == sorted(
        [
            (files[0].name, "ttl"),
            (files[3].name, "ttl"),
            (files[4].name, "ttl"),
            (other[0].name, "ttl"),
        ]
    )
    assert files[1].exists() and files[2].exists()
    assert run.janitor.totals.pinned == 2
    assert run.deleted() == []
    write_json_durably(pin_path(data, "keep"), {**pin, "state": "done"})
    assert run.deleted() == [(files[1].name, "ttl"), (files[2].name, "ttl")]


def test_a_pin_on_the_device_clock_covers_by_device_time(tmp_path):
    data = tmp_path / "data"
    now = time.time_ns()
    ago = [now - a * S for a in (50, 40, 30)]
    files = [
        write_archive_file(data, "alpha", i, [t], device_offset_ns=-3600 * S)
        for i, t in enumerate(ago)
    ]
    pin = {"name": "dev", "channels": ["alpha"], "start_ns": ago[1] - 3600 * S,
           "end_ns": ago[1] - 3600 * S + 1, "clock": "device", "state": "pending"}  # fmt: skip
    write_json_durably(pin_path(data, "dev"), pin)
    assert Run(settings_for(data, ttl_s=1)).deleted() == [
        (files[0].name, "ttl"),
        (files[2].name, "ttl"),
    ]


def test_an_unreadable_pin_keeps_everything(tmp_path):
    data = tmp_path / "data"
    make_files(data, "alpha", [50, 40])
    (data / "tags").mkdir()
    (data / "tags" / "broken.json").write_text("{not json")
    run = Run(settings_for(data, ttl_s=1))
    assert run.deleted() == []
    assert run.janitor.totals.pinned == 2


def test_dry_run_prints_and_deletes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    files = make_files(data, "alpha", [50, 40, 5])
    assert dry_run(settings_for(data, ttl_s=20)) == 0
    out = capsys.readouterr().out
    assert f"would delete {files[0]}" in out and f"would delete {files[1]}" in out
    assert str(files[2]) not in out
    assert "2 files" in out
    assert all(p.exists() for p in files)


def test_a_file_a_relay_writes_is_never_deleted(tmp_path, relay_binary, procs):
    data = tmp_path / "data"
    relay = start_relay(procs, relay_binary, data, "--rotate-bytes=4000")
    sent = 0
    while len(relay.files()) < 4:
        relay.send(probe_datagrams(sent, 20))
        sent += 20
        time.sleep(0.05)
    relay.wait_archived(sent)
    *closed, current = relay.files()
    time.sleep(1.2)  # every record is now older than the TTL, the disk "full"
    run = Run(settings_for(data, ttl_s=1, quota_bytes=1, min_free_bytes=1 << 62))
    assert run.deleted() == [(p.name, "ttl") for p in closed]
    assert relay.files() == [current], "the file being written was deleted"
    assert run.janitor.totals.held == 3  # asked by the quota and the floor too
    kept = len(relay.archived())
    relay.send(probe_datagrams(sent, 10))
    relay.wait_archived(kept + 10)
    assert relay.files()[0] == current
    relay.stop()
