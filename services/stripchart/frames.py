"""Binary frames of proto/WS.md: a 16-byte header, then blocks of one channel each (time
int64 ns, values float64 signal by signal, an optional exact ``last`` row), little-endian,
every section 8-byte aligned."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"SDW1"
LIVE, HISTORY = 1, 2
LAST_HISTORY = 1
BLOCK_REDUCED, BLOCK_LAST = 1, 2
_HEADER = struct.Struct("<4sBBHII")
_BLOCK = struct.Struct("<HHIII")


@dataclass
class Block:
    """Rows of one subscription's block ``index``."""

    sub: int
    index: int
    t: np.ndarray
    values: np.ndarray
    """(signals, rows) float64."""
    reduced: bool = False
    last: tuple[int, np.ndarray] | None = None

    def encode(self) -> bytes:
        k, n = self.values.shape[0], len(self.t)
        flags = (BLOCK_REDUCED if self.reduced else 0) | (BLOCK_LAST if self.last else 0)
        parts = [
            _BLOCK.pack(self.index, k, n, flags, self.sub),
            self.t.astype("<i8", copy=False).tobytes(),
            np.ascontiguousarray(self.values, "<f8").tobytes(),
        ]
        if self.last is not None:
            parts.append(struct.pack("<q", self.last[0]))
            parts.append(np.ascontiguousarray(self.last[1], "<f8").tobytes())
        return b"".join(parts)


def frame(kind: int, blocks: list[Block], sub: int = 0, flags: int = 0) -> bytes:
    """One frame of subscription ``sub``'s ``blocks`` (each block names it again)."""
    head = _HEADER.pack(MAGIC, kind, flags, len(blocks), sub, 0)
    return head + b"".join(b.encode() for b in blocks)
