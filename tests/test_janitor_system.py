"""The janitor in the running system, all real (``sdctl up``: bus, registry, ingest, relays, the
janitor) on a small real disk (tmpfs): when the disk fills, the relay keeps receiving and
counts ``unarchived``, the janitor frees space by the floor rule, archiving resumes by itself,
and the loss shows in ``sdctl status`` and in the registry's counters. Closed files stay whole."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from speeddata import Client, Sender
from speeddata.archive import archive_files, read_records
from speeddata.config import ROOT, load_settings
from speeddata.demo import demo_records
from speeddata.logfmt import parse_line
from tests.procs import Proc, wait_until
from tests.system import PY, System, make_system
from tests.tmpfs import fill, mounted_tmpfs

MIB = 1 << 20
EXAMPLE = ROOT / "config" / "agents" / "example.avsc"


def sdctl_json(system: System, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [PY, "-m", "speeddata", *args, "--json"], env=system.env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def janitor_lines(up: Proc, event: str) -> list[dict[str, str]]:
    out = []
    for line in list(up.lines):
        name, _, text = line.partition("| ")
        if name.strip() == "janitor" and text.startswith(f"event={event} "):
            out.append(parse_line(text))
    return out


def archived_bytes(system: System) -> int:
    return sum(p.stat().st_size for p in archive_files(system.data_dir, "example"))


def test_a_full_disk_is_freed_by_the_floor_and_archiving_resumes(tmp_path: Path, relay_binary):
    with mounted_tmpfs(tmp_path / "disk", "6m") as disk:
        system = make_system(
            disk,
            relay_binary,
            relay={"rotate_bytes": 65536},
            janitor={"min_free_bytes": MIB, "interval_s": 2.0, "ttl_s": 0, "quota_bytes": 0},
        )
        up = system.up()
        try:
            _full_disk(system, up, disk)
        finally:
            up.stop()
        assert not janitor_lines(up, "delete_failed")


def _full_disk(system: System, up: Proc, disk: Path) -> None:
    wait_until(lambda: "Ctrl-C stops everything" in "\n".join(up.stdout_lines), what="summary")
    assert any(line.startswith("  janitor  pid ") for line in up.stdout_lines)
    records = demo_records("example", seed=1)
    sent = 0
    with Sender(EXAMPLE, "127.0.0.1", system.ports["example"]) as sender:

        def send(n: int) -> None:
            nonlocal sent
            batch = [next(records) for _ in range(n)]
            for r in batch:
                r["counter"] = sent
                sent += 1
            sender.send_many(batch)
            time.sleep(0.01)

        def grow() -> bool:
            send(500)
            return archived_bytes(system) >= int(2.5 * MIB)

        wait_until(grow, timeout=60, interval=0.01, what="2.5 MiB archived")
        before = {p.name for p in archive_files(system.data_dir, "example")}
        fill(disk / "dummy")  # the disk is full: nothing more fits

        def lost() -> bool:
            send(200)
            rows = sdctl_json(system, "status", "--wait", "1.5")
            return any(r["channel"] == "example" and (r.get("unarchived") or 0) > 0 for r in rows)

        wait_until(lost, timeout=30, interval=0.2, what="unarchived records in sdctl status")
        wait_until(lambda: janitor_lines(up, "deleted"), what="the janitor deleting")
        mark = sent

        def resumed() -> bool:
            send(100)
            newest = archive_files(system.data_dir, "example")[-1]
            return any(r["counter"] >= mark for r in read_records(newest))

        wait_until(resumed, timeout=30, interval=0.3, what="archiving again after the janitor")

    deleted = janitor_lines(up, "deleted")
    assert {d["reason"] for d in deleted} == {"floor"}
    assert {Path(d["path"]).name for d in deleted} <= before, "a file newer than the fill went"
    assert len(deleted) >= 8  # 1 MiB of 64 KiB files
    kept = archive_files(system.data_dir, "example")
    assert all(p.name not in {Path(d["path"]).name for d in deleted} for p in kept)
    oldest_kept = min(int(p.name.rsplit("-", 1)[1].split(".")[0]) for p in kept)
    assert all(int(Path(d["path"]).name.rsplit("-", 1)[1][:6]) < oldest_kept for d in deleted)
    counters = [r["counter"] for p in kept for r in read_records(p)]
    assert counters == sorted(counters), "files out of order or torn"

    with Client(settings=load_settings(system.config, system.data_dir)) as client:
        channel = client.channel("example")
    assert channel["counters"]["unarchived"] > 0, channel["counters"]
    rows = sdctl_json(system, "status")
    (row,) = [r for r in rows if r["channel"] == "example"]
    assert row["unarchived"] > 0
    table = subprocess.run(
        [PY, "-m", "speeddata", "status", "--wait", "2.5"], env=system.env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    (line,) = [x for x in table.splitlines() if x.startswith("janitor: deleted ")]
    assert "; floor " in line, line
