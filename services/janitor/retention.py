"""One janitor's passes over the archive: the rules of :mod:`services.janitor.policy` applied to
the files, with the checks right before each unlink, the events, and the counters of
``janitor.status``.

Before a file is deleted: the pins are read again (a pending tag's pin that covers it keeps
it), then the file is opened and its ``flock`` tried without waiting (a relay holds the file it
writes: kept); the file is unlinked while the lock is held, so no relay can take it meanwhile.
A dry run does every check but the lock and unlinks nothing."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from services.janitor.files import ArchiveEntry, Scanner, disk_free
from services.janitor.policy import REASONS, Limits, RetentionPass
from speeddata.config import Settings
from speeddata.logfmt import format_line
from speeddata.pins import read_pins

Publish = Callable[[str, dict[str, Any]], object]


@dataclass
class Totals:
    """What the janitor did since it started, and what the last pass found."""

    passes: int = 0
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    records: int = 0
    errors: int = 0
    archive_files: int = 0
    archive_bytes: int = 0
    free_bytes: int = 0
    quarantine_bytes: int = 0
    pinned: int = 0
    held: int = 0
    pins: int = 0
    pass_s: float = 0.0
    last_pass: int | None = None


class Janitor:
    """Runs passes (:meth:`run_pass`) and tells what they did (:meth:`status_fields`)."""

    def __init__(
        self,
        settings: Settings,
        publish: Publish,
        dry_run: bool = False,
        out: TextIO | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.dry_run = dry_run
        self.scanner = Scanner(self.data_dir)
        self.totals = Totals()
        self.channel_configs: dict[str, dict[str, Any]] = {}
        """Each channel's ``config`` (its ``retention_*`` keys), as the registry last said."""
        self._publish = publish
        self._out = out
        self._log = log
        self._freed_dry = 0

    def limits(self) -> Limits:
        j = self.settings.janitor
        return Limits(
            ttl_s=float(j.ttl_s),
            quota_bytes=int(j.quota_bytes),
            min_free_bytes=int(j.min_free_bytes),
            channel_ttl_s=_per_channel(self.channel_configs, "retention_ttl_s"),
            channel_quota_bytes=_per_channel(self.channel_configs, "retention_quota_bytes"),
        )

    def run_pass(self) -> list[ArchiveEntry]:
        """One pass of every rule; returns the files deleted (or that would be, dry)."""
        started = time.monotonic()
        t = self.totals
        t.pinned = t.held = 0
        self._freed_dry = 0
        entries = self.scanner.scan()
        deleted: list[ArchiveEntry] = []

        def delete(entry: ArchiveEntry, reason: str) -> bool:
            if self._delete(entry, reason):
                deleted.append(entry)
                return True
            return False

        RetentionPass(entries, self.limits(), time.time_ns(), delete, self._free).run()
        gone = {id(e) for e in deleted}
        left = [e for e in entries if id(e) not in gone]
        t.passes += 1
        t.archive_files = len(left)
        t.archive_bytes = sum(e.size for e in left)
        t.free_bytes = self._free()
        t.quarantine_bytes = _folder_bytes(self.data_dir / "quarantine")
        t.pins = sum(p.pending for p in read_pins(self.data_dir))
        t.pass_s = time.monotonic() - started
        t.last_pass = time.time_ns()
        return deleted

    def _free(self) -> int:
        try:
            return disk_free(self.data_dir) + self._freed_dry
        except OSError:
            return 0

    def _delete(self, entry: ArchiveEntry, reason: str) -> bool:
        """The checks, then the unlink (while holding the file's lock)."""
        if any(p.covers(entry.channel, entry.spans()) for p in read_pins(self.data_dir)):
            self.totals.pinned += 1
            return False
        if self.dry_run:
            return self._held_now(entry) is False and self._done(entry, reason)
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self.scanner.forget(entry.path)
            return False
        except OSError as e:
            return self._failed(entry, e)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.totals.held += 1
                return False
            if os.fstat(fd).st_size != entry.size:
                return False  # it changed since the scan: seen again next pass
            os.unlink(entry.path)
        except FileNotFoundError:
            return False
        except OSError as e:
            return self._failed(entry, e)
        finally:
            os.close(fd)
        self.scanner.forget(entry.path)
        return self._done(entry, reason)

    def _held_now(self, entry: ArchiveEntry) -> bool | None:
        """Dry run: True when a relay holds the file (None when it is gone)."""
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            self.totals.held += 1
            return True
        finally:
            os.close(fd)
        return False

    def _failed(self, entry: ArchiveEntry, error: OSError) -> bool:
        self.totals.errors += 1
        self._log(format_line(event="delete_failed", service="janitor", path=str(entry.path),
                              error=error.strerror or str(error)))  # fmt: skip
        return False

    def _done(self, entry: ArchiveEntry, reason: str) -> bool:
        t = self.totals
        t.files[reason] += 1
        t.bytes[reason] += entry.size
        t.records += entry.records
        now = time.time_ns()
        age = round(entry.age_s(now), 3)
        if self.dry_run:
            self._freed_dry += entry.disk_bytes
            if self._out is not None:
                print(f"would delete {entry.path} ({entry.size} bytes, {entry.records} records, "
                      f"{reason}, last record {age} s ago)", file=self._out)  # fmt: skip
            return True
        self._log(format_line(event="deleted", service="janitor", channel=entry.channel,
                              path=str(entry.path), bytes=entry.size, records=entry.records,
                              reason=reason, age_s=age))  # fmt: skip
        self._publish(
            f"janitor.deleted.{entry.channel}",
            {
                "channel": entry.channel,
                "path": str(entry.path),
                "bytes": entry.size,
                "records": entry.records,
                "reason": reason,
                "first_rx_time": entry.first_rx,
                "last_rx_time": entry.last_rx,
                "age_s": float(age),
            },
        )
        return True

    def status_fields(self) -> dict[str, Any]:
        t, j = self.totals, self.settings.janitor
        return {
            "dry_run": self.dry_run,
            "passes": t.passes,
            "deleted_files": dict(t.files),
            "deleted_bytes": dict(t.bytes),
            "deleted_records": t.records,
            "archive_files": t.archive_files,
            "archive_bytes": t.archive_bytes,
            "free_bytes": t.free_bytes,
            "quarantine_bytes": t.quarantine_bytes,
            "pinned": t.pinned,
            "held": t.held,
            "pins": t.pins,
            "errors": t.errors,
            "pass_s": float(t.pass_s),
            "last_pass": t.last_pass,
            "ttl_s": float(j.ttl_s),
            "quota_bytes": int(j.quota_bytes),
            "min_free_bytes": int(j.min_free_bytes),
        }


def _per_channel(configs: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    out = {}
    for name, config in configs.items():
        value = (config or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            out[name] = value
    return out


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    except OSError:
        return 0
