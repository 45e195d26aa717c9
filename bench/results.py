"""Raw results as JSON (bench/build/runs.json), so a report can be written again from them
(`python -m bench --render FILE`) without measuring again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.report import CaseResult, Context
from bench.summary import figures
from bench.sweep import Case, Run


def save(path: Path, ctx: Context, runs: dict[str, list[Run]]) -> None:
    doc = {
        "context": dataclasses.asdict(ctx),
        "runs": {
            key: [dataclasses.asdict(r) for r in case_runs] for key, case_runs in runs.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))


def load(path: Path) -> tuple[Context, dict[str, list[Run]]]:
    """Reads a file written by `save`; ValueError when it is not one."""
    try:
        doc = json.loads(path.read_text())
        ctx = Context(**doc["context"])
        runs = {key: [Run(**r) for r in rs] for key, rs in doc["runs"].items()}
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a bench results file ({e})") from None
    return ctx, runs


def summarize(ctx: Context, cases: list[Case], runs: dict[str, list[Run]]) -> list[CaseResult]:
    """The figures of every case that has runs."""
    out = []
    for case in cases:
        if case.key in runs:
            mine = runs[case.key]
            figs = {
                k.key: figures(case, k.key, mine, ctx.repeats, case.ref_rate) for k in case.kinds
            }
            out.append(CaseResult(case, mine, figs))
    return out
