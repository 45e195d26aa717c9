"""One run (a receiver at one paced rate) and the sweep over rates, receivers and repeats."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench import tools
from bench.receivers import ALL, Load, Outcome, Receiver

LOSSY_STREAK = 2
"""A receiver leaves the sweep after this many rates in a row at which every repeat lost."""


@dataclass(frozen=True)
class Case:
    """A kind of load and the rates (datagrams/s) it is swept over."""

    key: str
    title: str
    load: Load
    rates: tuple[int, ...]
    ref_rate: int  # datagrams/s at which CPU per record is compared
    kinds: tuple[type[Receiver], ...] = ALL


@dataclass
class Run:
    """The result of sending to one receiver at one rate once."""

    receiver: str
    rate: int
    repeat: int
    records: int  # per datagram
    sent: int = 0
    seconds: float = 0.0
    delivered: dict[str, int] = field(default_factory=dict)
    kernel_drops: int | None = None
    cpu_s: float = 0.0
    rss_kib: int = 0
    rcvbuf: int | None = None
    status: dict[str, Any] | None = None
    error: str | None = None

    @property
    def achieved(self) -> float:
        """Datagrams per second the blaster actually sent."""
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def loss(self) -> int:
        """Datagrams missing from the output that got fewest (all of them after an error)."""
        if self.error or not self.delivered:
            return self.sent
        return max(0, self.sent - min(self.delivered.values()))

    @property
    def pace(self) -> float:
        """The rate this run stands for: the one asked when the blaster held it (within 1%),
        else what it reached."""
        return float(self.rate) if self.achieved >= 0.99 * self.rate else self.achieved

    @property
    def handled(self) -> int:
        """Records the receiver took in (its best-served output: lost ones cost no work)."""
        return max(self.delivered.values(), default=0) * self.records

    @property
    def worst_output(self) -> str:
        """The output that got fewest datagrams (or "error")."""
        if self.error or not self.delivered:
            return "error"
        return min(self.delivered, key=lambda k: self.delivered[k])

    @property
    def clean(self) -> bool:
        """Ran and lost nothing on any output."""
        return self.error is None and self.sent > 0 and self.loss == 0


def blast(port: int, rate: int, ms: int, load: Load) -> tuple[int, float]:
    """Runs the blaster; returns (datagrams sent, seconds taken)."""
    proc = tools.Proc(
        [tools.program("blaster"), "--port", str(port), "--rate", str(rate), "--ms", str(ms),
         "--records", str(load.records)]
    )  # fmt: skip
    if proc.wait(ms / 1000 * 10 + 20) != 0:
        raise tools.BenchError(f"blaster failed:\n{proc.tail()}")
    out = proc.last_out()
    return int(out["sent"]), float(out["seconds"])


def run_once(kind: type[Receiver], case: Case, rate: int, repeat: int, rcvbuf: int, ms: int) -> Run:
    """Starts the receiver, blasts it, waits until it has read everything, counts."""
    run = Run(kind.key, rate, repeat, case.load.records)
    receiver = kind(rcvbuf, case.load)
    try:
        receiver.start()
        run.rcvbuf = tools.effective_rcvbuf(receiver.port)
        cpu0 = tools.cpu_seconds(receiver.pid)
        run.sent, run.seconds = blast(receiver.port, rate, ms, case.load)
        tools.wait_drained(receiver.ports())
        run.cpu_s = tools.cpu_seconds(receiver.pid) - cpu0
        run.rss_kib = tools.peak_rss_kib(receiver.pid)
        _record(run, receiver.finish())
    except (tools.BenchError, OSError) as e:
        run.error = str(e).splitlines()[0] if str(e) else type(e).__name__
    finally:
        receiver.cleanup()
    return run


def _record(run: Run, outcome: Outcome) -> None:
    run.delivered = outcome.delivered
    run.kernel_drops = outcome.kernel_drops
    run.status = outcome.status


def sweep(case: Case, repeats: int, rcvbuf: int, ms: int) -> list[Run]:
    """Every rate of the case, ascending; at each rate every repeat of every receiver still in
    the sweep, interleaved so that slow drifts of the machine hit all receivers alike."""
    kinds = case.kinds
    runs: list[Run] = []
    streak = {k.key: 0 for k in kinds}
    for rate in case.rates:
        active = [k for k in kinds if streak[k.key] < LOSSY_STREAK]
        if not active:
            break
        at_rate = [
            run_once(k, case, rate, rep, rcvbuf, ms) for rep in range(repeats) for k in active
        ]
        for k in active:
            mine = [r for r in at_rate if r.receiver == k.key]
            streak[k.key] = streak[k.key] + 1 if not any(r.clean for r in mine) else 0
        _progress(case, rate, at_rate)
        runs += at_rate
    return runs


def _progress(case: Case, rate: int, runs: list[Run]) -> None:
    parts = []
    for r in runs:
        what = f"error({r.error})" if r.error else f"loss={r.loss}"
        parts.append(f"{r.receiver}#{r.repeat}:{what}")
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} {case.key} rate={rate}: " + " ".join(parts), file=sys.stderr, flush=True)
