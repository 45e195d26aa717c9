"""The archive as the janitor sees it: every file of ``<data>/archive/<channel>/`` with its size,
its records and the times of its first and last record.

What a file holds is read from the file (its first and its last complete block), once per
(path, size, mtime): a closed file never changes, so a pass after the first one only stats the
files. A file without a complete block is being created (or was left empty by a crash, which
the relay repairs at its start): it is never a candidate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speeddata.archive import ArchiveError, ArchiveFile, archive_files, parse_archive_name
from speeddata.pins import UNIT_NS


@dataclass(frozen=True)
class ArchiveEntry:
    """One archive file. Times are ns since the epoch (device times converted from the
    channel's time unit); ``None`` when the file has no complete block."""

    path: Path
    channel: str
    seq: int
    size: int
    disk_bytes: int
    records: int
    first_rx: int | None
    last_rx: int | None
    first_device: int | None
    last_device: int | None

    @property
    def complete(self) -> bool:
        """True when the file has a complete block (a relay may still be appending to it)."""
        return self.last_rx is not None

    def spans(self) -> list[tuple[int, int] | None]:
        """Its records' ranges on the rx clock and (where declared) the device clock."""
        if self.first_rx is None or self.last_rx is None:
            return [None]
        out: list[tuple[int, int] | None] = [(self.first_rx, self.last_rx)]
        if self.first_device is not None and self.last_device is not None:
            out.append((self.first_device, self.last_device))
        return out

    def age_s(self, now_ns: int) -> float:
        """Seconds since its last record (0 when it has none yet)."""
        return 0.0 if self.last_rx is None else (now_ns - self.last_rx) / 1e9


@dataclass(frozen=True)
class _Times:
    records: int
    first_rx: int | None
    last_rx: int | None
    first_device: int | None
    last_device: int | None


_NO_TIMES = _Times(0, None, None, None, None)


class Scanner:
    """Lists the archive and remembers what each file holds by (path, size, mtime)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.reads = 0
        """Files read so far (the others came from the memory)."""
        self._known: dict[Path, tuple[int, int, _Times]] = {}

    def channels(self) -> list[str]:
        """The channel folders under ``<data>/archive``."""
        try:
            return sorted(p.name for p in (self.data_dir / "archive").iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def scan(self) -> list[ArchiveEntry]:
        """Every archive file of every channel, each channel's in sequence order."""
        out: list[ArchiveEntry] = []
        seen: set[Path] = set()
        for channel in self.channels():
            for path in archive_files(self.data_dir, channel):
                entry = self.entry(path, channel)
                if entry is not None:
                    out.append(entry)
                    seen.add(path)
        for gone in set(self._known) - seen:
            del self._known[gone]
        return out

    def entry(self, path: Path, channel: str) -> ArchiveEntry | None:
        """The file as it is now; None when it is gone."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        known = self._known.get(path)
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            times = known[2]
        else:
            times = self._read(path)
            if times.last_rx is not None:  # a file without a block is read again next time
                self._known[path] = (st.st_size, st.st_mtime_ns, times)
        name = parse_archive_name(path.name)
        return ArchiveEntry(
            path=path,
            channel=channel,
            seq=name.seq if name else 0,
            size=st.st_size,
            disk_bytes=st.st_blocks * 512,
            records=times.records,
            first_rx=times.first_rx,
            last_rx=times.last_rx,
            first_device=times.first_device,
            last_device=times.last_device,
        )

    def forget(self, path: Path) -> None:
        self._known.pop(path, None)

    def _read(self, path: Path) -> _Times:
        self.reads += 1
        try:
            with ArchiveFile(path) as f:
                return _times(f)
        except (OSError, ArchiveError, ValueError, EOFError):
            return _NO_TIMES


def _times(f: ArchiveFile) -> _Times:
    blocks = list(f.blocks())
    if not blocks:
        return _NO_TIMES
    first = next(iter(f.records(blocks[0].offset, blocks[0].end)), None)
    last = _last(f.records(blocks[-1].offset, blocks[-1].end))
    if first is None or last is None:  # empty blocks: not one the relay wrote
        return _NO_TIMES
    field, unit = f.header.time_field, UNIT_NS.get(f.header.time_unit or "ns", 1)
    return _Times(
        records=f.record_count,
        first_rx=int(first["rx_time"]),
        last_rx=int(last["rx_time"]),
        first_device=_device(first, field, unit),
        last_device=_device(last, field, unit),
    )


def _last(records: Any) -> dict[str, Any] | None:
    last = None
    for last in records:  # noqa: B007 - the loop keeps the last one
        pass
    return last


def _device(record: dict[str, Any], field: str | None, unit: int) -> int | None:
    value = record.get(field) if field else None
    return value * unit if isinstance(value, int) and not isinstance(value, bool) else None


def disk_free(data_dir: Path) -> int:
    """Bytes free for unprivileged users on the file system of ``<data>/archive`` (or of the
    data dir while there is no archive yet)."""
    folder = data_dir / "archive"
    st = os.statvfs(folder if folder.exists() else data_dir)
    return st.f_bavail * st.f_frsize
