"""A subscriber's bookkeeping of ``(source, seq)``: exact repeats to drop, gaps to count.

Every event carries ``source`` (one process instance) and ``seq`` (counting from 1 per source,
over all the topics that source publishes). Two things make a jump in ``seq`` something other
than a loss, and this module keeps them apart from the losses:

- **Topics not subscribed.** A source's seq counts every topic it publishes, so a subscriber
  hears every seq of a source only when its filters take in every topic of that source's
  service (``publisher`` in proto/topics.yaml). Gaps are counted only for such sources; a
  source of a service that topics.yaml does not name (a tool) only under the filter ``""``.
- **Replays and joining mid-stream.** The proxy's last-value cache replays the latest event of
  each cached topic when a subscriber joins, so the first events heard from a source may be old
  ones, followed by live events far ahead. Until an event is certainly live, jumps move the
  baseline and count nothing. An event is certainly live when its topic is not cached (only
  cached topics are replayed) or when the source already sent its topic to this subscriber (a
  replay burst holds one event per topic). From then on every jump is a loss.

A replay may also bring an event counted lost (the subscriber missed it, another one joined):
it is delivered, and taken off the losses as ``late``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from speeddata import events

SEEN_WINDOW = 4096
"""Sequence numbers remembered per source for duplicate detection."""
SEEN_SOURCES = 4096
"""Sources remembered (least recently heard forgotten first)."""
GAPS_KEPT = 256
"""Counted gaps remembered per source, so a late event can be taken off the losses."""


@dataclass(frozen=True)
class Gap:
    """Events a subscriber never got: seq ``first`` to ``last`` (inclusive) of ``source``."""

    source: str
    first: int
    last: int

    @property
    def lost(self) -> int:
        return self.last - self.first + 1


class Verdict(Enum):
    """What an event is to the subscriber that heard it."""

    NEW = "new"
    DUPLICATE = "duplicate"
    LATE = "late"
    """New, and one that had been counted lost."""


@dataclass
class _Source:
    last: int
    checked: bool
    live: bool
    seqs: set[int] = field(default_factory=set)
    floor: int = 0
    """Lowest seq :attr:`seqs` still vouches for (older ones were forgotten)."""
    topics: set[str] = field(default_factory=set)
    """Topics heard from the source before its first certainly-live event."""
    gaps: list[tuple[int, int]] = field(default_factory=list)
    lost: int = 0


class SeqTracker:
    """Per-source memory of one subscriber. :meth:`observe` says whether an event is new and
    records the gap before it; the counters sum over every source ever heard."""

    def __init__(
        self,
        filters: Iterable[str],
        window: int = SEEN_WINDOW,
        sources: int = SEEN_SOURCES,
    ) -> None:
        self._checked_services = gap_checked_services(filters)
        self._window = window
        self._max_sources = sources
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self.lost = 0
        self.late = 0
        self.gaps = 0
        self.unchecked_sources = 0

    def checks(self, source: str) -> bool:
        """True when gaps of ``source`` are counted under this subscriber's filters."""
        if self._checked_services is None:
            return True
        return source.split("/", 1)[0] in self._checked_services

    def lost_by_source(self) -> dict[str, int]:
        """Events lost per source, for the sources still remembered that lost any."""
        return {name: s.lost for name, s in self._sources.items() if s.lost}

    def observe(self, topic: str, source: str, seq: int) -> tuple[Verdict, Gap | None]:
        """Files one event; returns its verdict and the gap it ended (None: no new loss)."""
        state = self._sources.get(source)
        if state is None:
            state = self._first(topic, source, seq)
            return Verdict.NEW, None
        self._sources.move_to_end(source)
        if seq in state.seqs:
            return Verdict.DUPLICATE, None
        self._remember(state, seq)
        if seq <= state.last:
            return self._behind(state, seq), None
        gap = Gap(source, state.last + 1, seq - 1) if seq > state.last + 1 else None
        state.last = seq
        if not state.live:
            state.live = _live(topic) or topic in state.topics
            state.topics.add(topic)
            if state.live:
                state.topics.clear()
            return Verdict.NEW, None
        if gap is not None and state.checked:
            self._count(state, gap)
            return Verdict.NEW, gap
        return Verdict.NEW, None

    def _first(self, topic: str, source: str, seq: int) -> _Source:
        checked = self.checks(source)
        live = _live(topic)
        state = _Source(last=seq, checked=checked, live=live, floor=seq)
        if not live:
            state.topics.add(topic)
        state.seqs.add(seq)
        self._sources[source] = state
        self.unchecked_sources += not checked
        if len(self._sources) > self._max_sources:
            self._sources.popitem(last=False)
        return state

    def _remember(self, state: _Source, seq: int) -> None:
        state.seqs.add(seq)
        if len(state.seqs) > 2 * self._window:
            newest = sorted(state.seqs)[-self._window :]
            state.seqs = set(newest)
            state.floor = newest[0]
            state.gaps = [g for g in state.gaps if g[1] >= state.floor]

    def _behind(self, state: _Source, seq: int) -> Verdict:
        """An event older than the newest heard: late when it lies in a counted gap."""
        if seq < state.floor:
            return Verdict.NEW
        for i, (first, last) in enumerate(state.gaps):
            if first <= seq <= last:
                state.lost -= 1
                self.lost -= 1
                self.late += 1
                if first == last:
                    del state.gaps[i]
                return Verdict.LATE
        return Verdict.NEW

    def _count(self, state: _Source, gap: Gap) -> None:
        state.lost += gap.lost
        state.gaps.append((gap.first, gap.last))
        del state.gaps[:-GAPS_KEPT]
        self.lost += gap.lost
        self.gaps += 1


def _live(topic: str) -> bool:
    """True when an event of ``topic`` cannot be a replay (its topic is not cached)."""
    try:
        return not events.topic_spec(topic).cached
    except events.EventError:
        return True


def gap_checked_services(filters: Iterable[str]) -> frozenset[str] | None:
    """The services (first part of ``source``) whose every listed topic passes ``filters``
    (whole-segment prefixes); None when every source passes (the filter ``""``)."""
    wanted = tuple(filters)
    if "" in wanted:
        return None
    by_service: dict[str, list[str]] = {}
    for pattern, entry in events.listing()["topics"].items():
        fixed = pattern.split("<", 1)[0].removesuffix(".")
        by_service.setdefault(str(entry["publisher"]), []).append(fixed)
    return frozenset(
        service
        for service, fixed in by_service.items()
        if all(any(_covers(f, p) for f in wanted) for p in fixed)
    )


def _covers(wanted: str, fixed: str) -> bool:
    """True when filter ``wanted`` passes every topic that starts with ``fixed``."""
    return fixed == wanted or fixed.startswith(wanted + ".")
