"""docs/benchmarks.md: machine, command, method, targets, one table per case, noise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.summary import Figures, achieved_at, loss_at
from bench.sweep import Case, Run

RSS_LIMIT_KIB = 16 * 1024
MIN_RECORDS_PER_S = 1_000_000
RELATIVE_TO_COPY = 0.8


@dataclass(frozen=True)
class CaseResult:
    case: Case
    runs: list[Run]
    figures: dict[str, Figures]


@dataclass(frozen=True)
class Context:
    """How the bench was run."""

    command: str
    date: str
    machine: list[str]
    repeats: int
    ms: int
    rcvbuf: int


def render(ctx: Context, results: Sequence[CaseResult], more_targets: Sequence[str] = ()) -> str:
    """The report; `more_targets`: rows of other benchmarks' targets for its Targets table."""
    out = [
        "# Benchmarks",
        "",
        f"Written by `{ctx.command}` (bench/) on {ctx.date}. Do not edit by hand: rerun it.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in ctx.machine],
        "",
        *_method(ctx),
        *_targets(results, more_targets),
    ]
    for res in results:
        out += _case(ctx, res)
    out += _noise(ctx, results)
    return "\n".join(out) + "\n"


def _method(ctx: Context) -> list[str]:
    return [
        "## Method",
        "",
        f"- Load: `bench/build/blaster` sends a fixed valid record of `bench/bench.avsc` (98 bytes)"
        f" over loopback with `sendmmsg`, paced in bursts of at most 0.5 ms, for {ctx.ms} ms per"
        f" run; each receiver is started afresh for every run.",
        "- Receivers: `sink` (bare `recvmmsg`, counts: the floor); `copyrelay` (`recvmmsg` ->"
        " 1 MiB buffered file written at least every 100 ms + `sendmmsg` to a multicast group, no"
        " validation); `socat -u UDP-RECV:port OPEN:file` with"
        f" `rcvbuf={ctx.rcvbuf}`; `zmq_relay` with archive, full-rate and decimated multicast"
        " and bus status events, at decimate 1 (downsample: every record decimated, the"
        " default) and at decimate 10 (mean), decimated records packed into datagrams of up to"
        " 1472 bytes (`relay.dec_max_bytes`, the default). The relay hands runs of datagrams of"
        " one size to the kernel as one message with UDP GSO (`UDP_SEGMENT`, the same datagrams"
        " on the wire); the copy relay sends every datagram as its own `sendmmsg` entry, as"
        " the copy relay of earlier runs did (the targets' baseline); 'copy relay with UDP GSO'"
        " (`copyrelay --gso 1`) sends as the relay does, for comparison (no target). The copy"
        " relays and the relay have one"
        " C `recvmmsg` multicast listener joined to their full-rate group (nobody listens to the"
        " decimated group); sink, copy relay, listener and"
        f" relay ask for the relay's receive buffer ({ctx.rcvbuf} bytes, `relay.rcvbuf`) with"
        " SO_RCVBUFFORCE. socat can only ask with `rcvbuf=` (SO_RCVBUF, which the kernel caps at"
        " 2 x net.core.rmem_max; socat 1.7.4 ignores `setsockopt-int` on UDP-RECV), so it gets"
        " what the table's 'receive buffer granted' row shows; the bench changes no sysctl.",
        "- Loss: after the blaster stops, the bench waits until every socket queue is empty, stops"
        " the receiver (SIGTERM) and counts each output: datagrams received (the relay's last"
        " `relay.status`), datagrams in the file (copy relay, socat: by its size), records in"
        " the archive (read"
        " with `speeddata.archive`), datagrams heard by the multicast listener. A run is loss-free"
        " when every output has every datagram sent.",
        "- Two cores are shared by the blaster, the receiver and (copy relay, relay) the"
        " listener; loopback delivery is charged to the sender (the blaster pays for the"
        " receiver's socket, a relay for its listener's). 'blaster reached' shows where the"
        " blaster could not hold the asked pace.",
        "- Zero-loss rate: per repeat, the highest rate of a loss-free run (the rate asked when"
        " the blaster held it within 1%, else the rate it reached); the table shows the median"
        f" of {ctx.repeats} repeats. Rates are swept upwards from a little below where the"
        " relay or the copy relay started to lose on this machine, repeats and receivers"
        " interleaved; a receiver leaves the sweep after two rates at which every repeat lost;"
        " one that lost at the lowest rate shows 'lost at every rate'. `>=` marks a receiver"
        " that never lost (the figure is the"
        " top of the sweep, or what the blaster reached, not the receiver's limit).",
        "- CPU: utime + stime of the receiver process (`/proc/<pid>/stat`, 10 ms ticks) over the"
        " run, per million records it took in (a lossy receiver: what its best output got),"
        " median of the repeats at the reference rate; the blaster and the listener are not"
        " counted. Memory: peak resident set (`VmHWM`) over all runs.",
        "",
    ]


def _rate(f: Figures) -> str:
    if not f.per_repeat or f.median == 0:
        return "lost at every rate"
    return f"{'>= ' if f.never_lost else ''}{f.median / 1000:.0f} k"


TARGET_CASES = (
    ("single", "one record per datagram"),
    ("batch8", "8 records per datagram"),
    ("jumbo", "8 KB datagrams"),
)
TARGET_RELAYS = (("relay", "decimate 1"), ("relay_dec10", "decimate 10"))


def _targets(results: Sequence[CaseResult], more: Sequence[str] = ()) -> list[str]:
    by_key = {r.case.key: r.figures for r in results}
    rows = ["## Targets", "", "| target | measured | result |", "| --- | --- | --- |"]
    for case, what in TARGET_CASES:
        figs = by_key.get(case, {})
        for key, setting in TARGET_RELAYS:
            if key in figs and "copy" in figs:
                rows.append(_relative_row(figs[key], figs["copy"], f"{setting}, {what}"))
    batch = by_key.get("batch8", {})
    for key, setting in TARGET_RELAYS:
        if key in batch:
            relay = batch[key]
            recs = relay.median * 8
            rows.append(
                f"| >= 1 M records/s without loss, 8 records per datagram, {setting} | "
                f"{'>= ' if relay.never_lost else ''}{recs / 1e6:.2f} M records/s (repeats "
                + ", ".join(f"{v * 8 / 1e6:.2f}" for v in relay.per_repeat)
                + f") | {_verdict(recs >= MIN_RECORDS_PER_S)} |"
            )
    peak = max(
        (f.rss_kib for r in results for k, f in r.figures.items() if k.startswith("relay")),
        default=0,
    )
    if peak:
        rows.append(
            f"| relay resident memory < 16 MiB | peak VmHWM {peak / 1024:.1f} MiB | "
            f"{_verdict(peak < RSS_LIMIT_KIB)} |"
        )
    if len(rows) == 4:
        rows.append("| (relay not measured) | | |")
    return rows + [*more, ""]


def _relative_row(relay: Figures, copy: Figures, what: str) -> str:
    """The relay's zero-loss rate against 80% of the copy relay's, in the same case. A copy
    relay that never lost has a lower bound for a figure: then the ratio is an upper bound.
    One that lost at every rate has none: the comparison is inconclusive (the sweep started
    above it, e.g. on a busy machine), neither pass nor fail."""
    target = f"| relay zero-loss rate >= 80% of the copy relay's ({what}) | "
    if not copy.median:
        return (
            target + f"{_rate(relay)} vs copy relay lost at every rate (repeats {_k(relay)}"
            f" vs {_k(copy)}) | inconclusive |"
        )
    ok = relay.median >= RELATIVE_TO_COPY * copy.median
    ratio = relay.median / copy.median
    bound = "<= " if copy.never_lost and not relay.never_lost else ""
    return (
        target + f"{_rate(relay)} vs {_rate(copy)} datagrams/s ({bound}{ratio:.0%}; repeats"
        f" {_k(relay)} vs {_k(copy)}) | {_verdict(ok)} |"
    )


def _k(f: Figures) -> str:
    return ", ".join(f"{v / 1000:.0f}" for v in f.per_repeat)


def _verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _case(ctx: Context, res: CaseResult) -> list[str]:
    case, figs = res.case, res.figures
    keys = [k.key for k in case.kinds if k.key in figs]
    labels = {k.key: k.label for k in case.kinds}
    head = "| | " + " | ".join(labels[k] for k in keys) + " |"
    rule = "| --- |" + " --- |" * len(keys)
    rows = [f"## {case.title}", "", head, rule]

    def row(name: str, cell) -> None:  # type: ignore[no-untyped-def]
        rows.append(f"| {name} | " + " | ".join(cell(figs[k]) for k in keys) + " |")

    row("zero-loss datagrams/s (median)", _rate)
    row("records/s at that rate", lambda f: f"{f.median * case.load.records / 1e6:.2f} M")
    if case.load.size > 1000:
        row(
            "Gbit/s at that rate (UDP payload)",
            lambda f: f"{f.median * case.load.size * 8 / 1e9:.2f}",
        )
    row("repeats (k datagrams/s)", _k)
    row(
        f"CPU s per M records at {case.ref_rate / 1000:.0f} k datagrams/s",
        lambda f: "-" if f.cpu_per_m is None else f"{f.cpu_per_m:.2f}",
    )
    row("peak RSS (MiB)", lambda f: f"{f.rss_kib / 1024:.1f}")
    row(
        "receive buffer granted (MiB)", lambda f: "-" if not f.rcvbuf else f"{f.rcvbuf / 2**20:.1f}"
    )
    rows += [
        "",
        "Loss by rate: median of the repeats, with the output that lost most"
        " (`.` = not run at that rate).",
        "",
    ]
    rows += [
        "| asked datagrams/s | blaster reached | " + " | ".join(labels[k] for k in keys) + " |",
        "| --- | --- |" + " --- |" * len(keys),
    ]
    for rate in case.rates:
        lo, hi = achieved_at(res.runs, rate)
        if not hi:
            continue
        cells = [_loss_cell(loss_at(res.runs, k, rate)) for k in keys]
        rows.append(
            f"| {rate / 1000:.0f} k | {lo / 1000:.0f}-{hi / 1000:.0f} k | "
            + " | ".join(cells)
            + " |"
        )
    errors = [f"- {labels[k]}: {e}" for k in keys for e in figs[k].errors]
    if errors:
        rows += ["", "Errors:", "", *errors]
    return rows + [""]


def _loss_cell(cell: tuple[float, str] | None) -> str:
    if cell is None:
        return "."
    loss, output = cell
    if loss == 0:
        return "0"
    return f"{loss:.2%} ({output})" if loss >= 0.0001 else f"{loss:.4%} ({output})"


def _noise(ctx: Context, results: Sequence[CaseResult]) -> list[str]:
    rows = [
        "## Noise",
        "",
        f"Spread of the zero-loss rate over {ctx.repeats} repeats, (max - min) / median, per"
        " receiver; the sweep's step (25 k datagrams/s; 5 to 10 k for 8 KB datagrams) bounds the"
        " resolution."
        " Other work on the machine (see the load average) lowers every figure.",
        "",
    ]
    for res in results:
        parts = [f"{f.receiver} {f.spread:.0%}" for f in res.figures.values() if f.per_repeat]
        rows.append(f"- {res.case.title}: " + ", ".join(parts))
    return rows
