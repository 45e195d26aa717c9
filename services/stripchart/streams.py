"""Live rows for subscriptions. A :class:`Stream` takes new rows of one channel store for one
set of signals and one bucket width, reduced once for every subscription that asks the same;
each subscription's :class:`Target` queues what it was handed until its connection sends it.

A stream keeps the rows of its open bucket until a later bucket begins (``open_from`` is the
first of them): a subscription that joins gets its history up to ``open_from`` and every row
from there on through the stream, so no row comes twice and none is missing."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from services.stripchart.frames import Block
from services.stripchart.memory import ChannelStore
from services.stripchart.reduce import reduce, split_open


@dataclass
class Chunk:
    t: np.ndarray
    values: np.ndarray
    reduced: bool


class Target:
    """One block of one subscription: the rows handed to it and not yet sent."""

    def __init__(self, sub: int, index: int, stream: Stream, queue_rows: int) -> None:
        self.sub = sub
        self.index = index
        self.stream = stream
        self.queue_rows = queue_rows
        self.pending: deque[Chunk] = deque()
        self.rows = 0
        self.last: tuple[int, np.ndarray] | None = None
        self.dropped = 0
        """Rows dropped since the client was last told."""

    def hand(self, chunk: Chunk | None, last: tuple[int, np.ndarray] | None) -> None:
        if chunk is not None and len(chunk.t):
            self.pending.append(chunk)
            self.rows += len(chunk.t)
            self._bound()
        if last is not None:
            self.last = last

    def _bound(self) -> None:
        while self.rows > self.queue_rows:
            oldest = self.pending[0]
            over = self.rows - self.queue_rows
            if over >= len(oldest.t):
                self.pending.popleft()
                cut = len(oldest.t)
            else:
                self.pending[0] = Chunk(oldest.t[over:], oldest.values[:, over:], oldest.reduced)
                cut = over
            self.rows -= cut
            self.dropped += cut

    def take(self) -> Block | None:
        """What to send now (the pending rows and the newest ``last``), or None."""
        if not self.pending and self.last is None:
            return None
        chunks, self.pending, self.rows = list(self.pending), deque(), 0
        if len(chunks) == 1:
            t, v = chunks[0].t, chunks[0].values
        elif chunks:
            t = np.concatenate([c.t for c in chunks])
            v = np.concatenate([c.values for c in chunks], axis=1)
        else:
            t, v = np.empty(0, np.int64), np.empty((len(self.stream.signals), 0))
        block = Block(self.sub, self.index, t, v, any(c.reduced for c in chunks), self.last)
        self.last = None
        return block


@dataclass(eq=False)  # hashed by identity: targets and subscriptions key on it
class Stream:
    store: ChannelStore
    signals: list[int]
    bucket_ns: int
    targets: set[Target] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.cursor = self.store.total
        self.open_from = self.cursor
        k = len(self.signals)
        self._carry = (np.empty(0, np.int64), np.empty((k, 0), np.float64))

    def advance(self) -> bool:
        """Hands the rows that came since the last call to every target; False when none came."""
        total = self.store.total
        if total == self.cursor:
            return False
        t, v = self.store.rows(self.cursor, total, self.signals)
        self.cursor = total
        if not len(t):
            return False
        last = (int(t[-1]), v[:, -1].copy())
        if self.bucket_ns > 0:
            t = np.concatenate([self._carry[0], t])
            v = np.concatenate([self._carry[1], v], axis=1)
            cut = split_open(t, self.bucket_ns)
            self._carry = (t[cut:], v[:, cut:])
            t, v = t[:cut], v[:, :cut]
        self.open_from = total - len(self._carry[0])
        rt, rv, reduced = reduce(t, v, self.bucket_ns)
        chunk = Chunk(rt, rv, reduced) if len(rt) else None
        for target in self.targets:
            target.hand(chunk, last)
        return True
