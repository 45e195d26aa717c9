"""The proxy's last-value cache: the latest event of each cached topic (``cached: true`` in
proto/topics.yaml), replayed to a subscriber that joins. An entry expires when its publisher
misses ``cache_beats`` beats, or when its channel is removed from the registry."""

from __future__ import annotations

from dataclasses import dataclass

from speeddata.events import TopicSpec


@dataclass
class _Entry:
    frames: tuple[bytes, bytes]
    expires: float
    channel: str | None


class LastValueCache:
    """Latest ``[topic, payload]`` of each cached topic, keyed by topic. Times are monotonic
    seconds passed in by the caller."""

    def __init__(self, specs: tuple[TopicSpec, ...], cache_beats: float) -> None:
        if (
            isinstance(cache_beats, bool)
            or not isinstance(cache_beats, int | float)
            or cache_beats <= 0
        ):
            raise ValueError(f"bus.cache_beats must be > 0, not {cache_beats!r}")
        self._specs = tuple(s for s in specs if s.cached)
        self._prefixes = tuple(s.prefix.encode() for s in self._specs)
        self._beats = cache_beats
        self._entries: dict[bytes, _Entry] = {}
        self.expired = 0
        self.removed = 0

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Topic prefixes the proxy must receive to fill the cache."""
        return tuple(s.prefix for s in self._specs)

    def offer(self, topic: bytes, payload: bytes, now: float) -> bool:
        """Keeps the message when its topic is cached; True when it was."""
        if not topic.startswith(self._prefixes):
            return False
        try:
            text = topic.decode()
        except UnicodeDecodeError:
            return False
        for spec in self._specs:
            if spec.matches(text):
                channel = text.rsplit(".", 1)[-1] if spec.per_channel else None
                expires = now + self._beats * spec.beat_s
                self._entries[topic] = _Entry((topic, payload), expires, channel)
                return True
        return False

    def matching(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Entries whose topic starts with ``prefix`` (a ZeroMQ subscription), by topic."""
        return [e.frames for t, e in sorted(self._entries.items()) if t.startswith(prefix)]

    def expire(self, now: float) -> int:
        """Drops the entries whose publisher missed its beats; returns how many."""
        old = [t for t, e in self._entries.items() if e.expires <= now]
        for t in old:
            del self._entries[t]
        self.expired += len(old)
        return len(old)

    def remove_channel(self, name: str) -> int:
        """Drops every entry of channel ``name``; returns how many."""
        gone = [t for t, e in self._entries.items() if e.channel == name]
        for t in gone:
            del self._entries[t]
        self.removed += len(gone)
        return len(gone)

    def __len__(self) -> int:
        return len(self._entries)
