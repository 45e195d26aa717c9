"""`python -m bench [--quick] [--out FILE]`: runs the relay benchmark and writes the report."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import (
    columnar,
    janitor,
    machine,
    pages,
    pivot,
    registry,
    results,
    stripchart,
    tools,
    worst_datagram,
)
from bench.receivers import RELAY_VARIANTS, Load
from bench.report import Context, render
from bench.sweep import Case, Run, sweep
from speeddata.config import load_settings

K = 1000
BREAKDOWN = Case(
    "breakdown",
    "Where the relay's CPU goes: its decimated output varied (8 records per datagram;"
    " zmq_relay = decimate 1, records packed up to 1472 bytes, as in the tables above)",
    Load(8),
    (75 * K,),
    75 * K,
    RELAY_VARIANTS,
)
FULL = (
    # Each sweep starts a little below where the slowest receiver that matters (the relay, the
    # copy relay) lost on this machine, in 25 k steps (the resolution of the figures).
    Case(
        "single",
        "~100-byte records, one per datagram",
        Load(1),
        tuple(range(125 * K, 300 * K + 1, 25 * K)),
        125 * K,
    ),
    Case(
        "batch8",
        "8 records per datagram (784 bytes)",
        Load(8),
        tuple(range(75 * K, 250 * K + 1, 25 * K)),
        75 * K,
    ),
    Case(
        "jumbo",
        "8 KB datagrams (83 records, 8134 bytes)",
        Load(83),
        (15 * K, 20 * K, 25 * K, 30 * K, 35 * K, 40 * K, 45 * K, 50 * K, 60 * K, 70 * K),
        15 * K,
    ),
    BREAKDOWN,
)
QUICK = (
    Case("single", FULL[0].title, Load(1), (100 * K,), 100 * K),
    Case("batch8", FULL[1].title, Load(8), (100 * K,), 100 * K),
    Case("jumbo", FULL[2].title, Load(83), (20 * K,), 20 * K),
    Case("breakdown", BREAKDOWN.title, Load(8), (75 * K,), 75 * K, RELAY_VARIANTS),
)
QUICK_OUT = tools.BUILD / "benchmarks-quick.md"
FULL_OUT = tools.ROOT / "docs" / "benchmarks.md"


RUNS_JSON = tools.BUILD / "runs.json"

SECTIONS: dict[str, ModuleType] = {
    "worst": worst_datagram,
    "registry": registry,
    "janitor": janitor,
    "pages": pages,
    "columnar": columnar,
    "pivot": pivot,
    "stripchart": stripchart,
}
"""Benchmarks of their own, reported after the relay's sweeps, by ``--case`` key. Each module
has ``measure(quick) -> result``, ``load() -> result | None`` (the last saved result),
``render(result | None) -> str`` and may have ``targets(result | None) -> list[str]`` (rows
of the report's Targets table)."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 rate, 1 repeat, 0.5 s runs")
    p.add_argument("--out", type=Path, help=f"report file (default {FULL_OUT}; quick: {QUICK_OUT})")
    p.add_argument("--repeats", type=int, help="runs per rate and receiver (default 3; quick 1)")
    p.add_argument("--ms", type=int, help="duration of one run in ms (default 2000; quick 500)")
    p.add_argument("--relay", type=Path, help=f"relay binary (default {tools.RELAY})")
    p.add_argument(
        "--case",
        action="append",
        choices=[c.key for c in FULL] + list(SECTIONS),
        help="only these",
    )
    p.add_argument("--render", type=Path, help=f"write the report from saved runs ({RUNS_JSON})")
    args = p.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    args.command = f"python -m bench {shlex.join(given)}" if given else "make bench"
    cases = [c for c in (QUICK if args.quick else FULL) if not args.case or c.key in args.case]
    out = args.out or (QUICK_OUT if args.quick else FULL_OUT)
    try:
        if args.render:
            ctx, runs = results.load(args.render)
            measured = {key: module.load() for key, module in SECTIONS.items()}
        else:
            ctx, runs = measure(args, cases)
            results.save(RUNS_JSON, ctx, runs)
            measured = {
                key: None if args.case and key not in args.case else module.measure(args.quick)
                for key, module in SECTIONS.items()
            }
    except (tools.BenchError, ValueError, OSError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    report = render(ctx, results.summarize(ctx, cases, runs), _targets(measured))
    out.write_text(report + "".join(m.render(measured[k]) for k, m in SECTIONS.items()))
    print(f"bench: wrote {out}", file=sys.stderr)
    return 0


def _targets(measured: dict[str, Any]) -> list[str]:
    """The sections' rows of the Targets table."""
    rows: list[str] = []
    for key, module in SECTIONS.items():
        if hasattr(module, "targets"):
            rows += module.targets(measured[key])
    return rows


def measure(args: argparse.Namespace, cases: list[Case]) -> tuple[Context, dict[str, list[Run]]]:
    """Builds the tools and sweeps every case; the context says how."""
    repeats = args.repeats or (1 if args.quick else 3)
    ms = args.ms or (500 if args.quick else 2000)
    if repeats < 1 or ms < 100:
        raise ValueError("--repeats must be >= 1 and --ms >= 100")
    tools.build()
    if args.relay:
        tools.RELAY = args.relay.resolve()
    rcvbuf = load_settings().relay.rcvbuf
    ctx = Context(
        command=args.command,
        date=time.strftime("%Y-%m-%d %H:%M %Z"),
        machine=machine.describe(),
        repeats=repeats,
        ms=ms,
        rcvbuf=rcvbuf,
    )
    load_before, t0 = machine.load_average(), time.monotonic()
    runs = {case.key: sweep(case, repeats, rcvbuf, ms) for case in cases}
    ctx.machine.append(f"load average before: {load_before}, after: {machine.load_average()}")
    ctx.machine.append(f"duration of the whole run: {(time.monotonic() - t0) / 60:.1f} min")
    return ctx, runs


if __name__ == "__main__":
    sys.exit(main())
