"""Min/max per pixel column (proto/WS.md, "Reduction"): time is cut into buckets of
``bucket_ns`` aligned to multiples of it; each run of rows in one bucket becomes at most two
rows. A run of 1 or 2 rows stays as it is; a longer one becomes (time of its first row, the
minimum of each signal) and (time of its last row, the maximum of each signal), NaN ignored.
Runs, not groups: rows stay in arrival order even when a clock steps back."""

from __future__ import annotations

import numpy as np


def runs(t: np.ndarray, bucket_ns: int) -> np.ndarray:
    """Start index of each run of rows in one bucket (the first is 0); empty for no rows."""
    if len(t) == 0:
        return np.empty(0, np.intp)
    b = t // bucket_ns
    return np.concatenate(([0], np.flatnonzero(b[1:] != b[:-1]) + 1))


def reduce(
    t: np.ndarray, values: np.ndarray, bucket_ns: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(time, values, reduced)``: the rows min/max-reduced per bucket run; ``reduced`` is
    True when some run had more than two rows."""
    if bucket_ns <= 0 or len(t) <= 2:
        return t, values, False
    starts = runs(t, bucket_ns)
    ends = np.append(starts[1:], len(t))
    sizes = ends - starts
    if sizes.max() <= 2:
        return t, values, False
    big = sizes > 2
    first_v = values[:, starts]
    last_v = values[:, ends - 1]
    if values.shape[0]:
        with np.errstate(invalid="ignore"):
            lo = np.fmin.reduceat(values, starts, axis=1)
            hi = np.fmax.reduceat(values, starts, axis=1)
        first_v = np.where(big, lo, first_v)
        last_v = np.where(big, hi, last_v)
    counts = np.minimum(sizes, 2)
    pos = np.cumsum(counts) - counts  # where each run's first output row goes
    n = int(counts.sum())
    out_t = np.empty(n, np.int64)
    out_v = np.empty((values.shape[0], n), np.float64)
    out_t[pos] = t[starts]
    out_v[:, pos] = first_v
    two = counts == 2
    out_t[pos[two] + 1] = t[ends[two] - 1]
    out_v[:, pos[two] + 1] = last_v[:, two]
    return out_t, out_v, True


def split_open(t: np.ndarray, bucket_ns: int) -> int:
    """Where the last run starts: rows before it are complete buckets (a live stream sends
    them), rows from it on are the open bucket (kept until a later bucket begins)."""
    if bucket_ns <= 0 or len(t) == 0:
        return len(t)
    return int(runs(t, bucket_ns)[-1])
