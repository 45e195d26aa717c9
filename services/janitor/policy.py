"""The retention rules, apart from files and the bus: which files one pass deletes, in which
order, and why.

The rules, each over the files the ones before left:

1. ``ttl`` / ``channel_ttl``: every closed file whose last record is older than the TTL (the
   stricter of ``janitor.ttl_s`` and the channel's ``retention_ttl_s``), oldest first.
2. ``channel_quota``: a channel whose files add up to more than its ``retention_quota_bytes``
   loses its oldest files (sequence order) until it fits.
3. ``quota``: the whole archive over ``janitor.quota_bytes`` loses the oldest files of any
   channel (by their last record) until it fits.
4. ``floor``: while the disk has less than ``janitor.min_free_bytes`` free, the oldest files
   go, one at a time, the free space measured again after each.

0 is no limit. Every rule asks ``delete(entry, reason)``, which may refuse (a relay holds the
file, a pending tag's pin covers it, it has no complete block yet): a refused file is skipped
and the rule goes on with the next oldest, and the file's bytes still count."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.janitor.files import ArchiveEntry

REASONS = ("ttl", "channel_ttl", "channel_quota", "quota", "floor")

Delete = Callable[[ArchiveEntry, str], bool]
"""Called as ``delete(entry, reason)``: True when the file is gone (or would be, dry)."""


@dataclass(frozen=True)
class Limits:
    """The limits of one pass: the global settings and each channel's (0: no limit)."""

    ttl_s: float = 0.0
    quota_bytes: int = 0
    min_free_bytes: int = 0
    channel_ttl_s: dict[str, float] = field(default_factory=dict)
    channel_quota_bytes: dict[str, int] = field(default_factory=dict)

    def ttl(self, channel: str) -> tuple[float, str]:
        """The TTL that holds for ``channel`` and its reason; ``(0, "")`` when none."""
        own = self.channel_ttl_s.get(channel, 0) or 0
        if own > 0 and (self.ttl_s <= 0 or own < self.ttl_s):
            return float(own), "channel_ttl"
        return (float(self.ttl_s), "ttl") if self.ttl_s > 0 else (0.0, "")


def oldest_first(entries: Iterable[ArchiveEntry]) -> list[ArchiveEntry]:
    """Files by the time of their last record (files without one last), then channel and
    sequence number."""
    never = 1 << 62
    return sorted(
        entries, key=lambda e: (e.last_rx if e.last_rx is not None else never, e.channel, e.seq)
    )


class RetentionPass:
    """One pass of the rules over ``entries`` (each channel's in sequence order)."""

    def __init__(
        self,
        entries: list[ArchiveEntry],
        limits: Limits,
        now_ns: int,
        delete: Delete,
        free_bytes: Callable[[], int],
    ) -> None:
        self.entries = entries
        self.limits = limits
        self.now_ns = now_ns
        self._delete = delete
        self._free_bytes = free_bytes
        self.gone: set[int] = set()
        self._order = oldest_first(entries)

    def run(self) -> None:
        self.by_ttl()
        self.by_channel_quota()
        self.by_quota()
        self.by_floor()

    def left(self, entries: Iterable[ArchiveEntry] | None = None) -> list[ArchiveEntry]:
        return [e for e in (self.entries if entries is None else entries) if id(e) not in self.gone]

    def _try(self, entry: ArchiveEntry, reason: str) -> bool:
        if id(entry) in self.gone or not entry.complete:
            return False
        if self._delete(entry, reason):
            self.gone.add(id(entry))
            return True
        return False

    def by_ttl(self) -> None:
        for entry in self._order:
            ttl, reason = self.limits.ttl(entry.channel)
            if ttl > 0 and entry.complete and entry.age_s(self.now_ns) >= ttl:
                self._try(entry, reason)

    def by_channel_quota(self) -> None:
        for channel, quota in sorted(self.limits.channel_quota_bytes.items()):
            if quota and quota > 0:
                mine = [e for e in self.left() if e.channel == channel]
                self._shrink(mine, quota, "channel_quota")

    def by_quota(self) -> None:
        if self.limits.quota_bytes > 0:
            self._shrink(self.left(self._order), self.limits.quota_bytes, "quota")

    def _shrink(self, entries: list[ArchiveEntry], quota: int, reason: str) -> None:
        total = sum(e.size for e in entries)
        for entry in entries:
            if total <= quota:
                return
            if self._try(entry, reason):
                total -= entry.size

    def by_floor(self) -> None:
        floor = self.limits.min_free_bytes
        if floor <= 0:
            return
        for entry in self.left(self._order):
            if self._free_bytes() >= floor:
                return
            self._try(entry, "floor")
