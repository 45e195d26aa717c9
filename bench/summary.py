"""From runs to figures: each receiver's zero-loss rate per repeat and its median, CPU per
million records, peak memory, and the loss at each rate."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.sweep import Case, Run


@dataclass(frozen=True)
class Figures:
    """One receiver in one case."""

    receiver: str
    per_repeat: tuple[float, ...]  # highest pace (datagrams/s) with zero loss, per repeat
    never_lost: bool  # no loss at any rate (runs that failed to start aside): a lower bound
    cpu_per_m: float | None  # CPU seconds per million records at the case's reference rate
    rss_kib: int  # peak resident memory over all runs
    rcvbuf: int | None  # receive buffer the kernel gave (bytes)
    errors: tuple[str, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.per_repeat) if self.per_repeat else 0.0

    @property
    def spread(self) -> float:
        """(max - min) / median of the repeats: the noise of this figure."""
        if not self.per_repeat or not self.median:
            return 0.0
        return (max(self.per_repeat) - min(self.per_repeat)) / self.median


def figures(case: Case, receiver: str, runs: Sequence[Run], repeats: int, ref_rate: int) -> Figures:
    mine = [r for r in runs if r.receiver == receiver]
    per_repeat = tuple(
        max((r.pace for r in mine if r.repeat == rep and r.clean), default=0.0)
        for rep in range(repeats)
    )
    at_ref = [r for r in mine if r.rate == ref_rate and not r.error]
    cpu = [r.cpu_s / r.handled * 1e6 for r in at_ref if r.handled]
    return Figures(
        receiver=receiver,
        per_repeat=per_repeat,
        never_lost=any(r.clean for r in mine) and not any(r.loss for r in mine if not r.error),
        cpu_per_m=statistics.median(cpu) if cpu else None,
        rss_kib=max((r.rss_kib for r in mine), default=0),
        rcvbuf=next((r.rcvbuf for r in mine if r.rcvbuf), None),
        errors=tuple(sorted({r.error for r in mine if r.error})),
    )


def loss_at(runs: Sequence[Run], receiver: str, rate: int) -> tuple[float, str] | None:
    """Median loss (fraction of datagrams sent) of the receiver's runs at `rate` and the
    output that lost most in the median run; None if it was not run there."""
    mine = sorted(
        (r.loss / r.sent if r.sent else 1.0, r.worst_output)
        for r in runs
        if r.receiver == receiver and r.rate == rate
    )
    return mine[(len(mine) - 1) // 2] if mine else None


def achieved_at(runs: Sequence[Run], rate: int) -> tuple[float, float]:
    """Lowest and highest rate the blaster actually reached when asked for `rate`."""
    got = [r.achieved for r in runs if r.rate == rate and r.sent]
    return (min(got), max(got)) if got else (0.0, 0.0)
