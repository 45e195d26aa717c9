"""Writes docs/cli.md, the sdctl reference, from the commands' own ``--help``.

python -m speeddata.cli.reference           # rewrite docs/cli.md
python -m speeddata.cli.reference --check   # exit 1 when docs/cli.md is stale
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import typer

from speeddata.config import ROOT

DOC = ROOT / "docs" / "cli.md"
WIDTH = "100"

HEAD = """# `sdctl` reference

Generated from `sdctl ... --help` by `python -m speeddata.cli.reference`; do not edit by hand
(a test fails when this file is stale). Every command also runs as `python -m speeddata`.

A domain error (the bus cannot be reached, an unknown channel, a bad argument) prints one line
`sdctl: error: ...` on stderr and exits non-zero. `sdctl events` and `sdctl tail` print JSON
lines: timestamps are integers of nanoseconds since the Unix epoch, bytes fields are hex strings.
"""


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the CLI, depth first in the order of the help (``()`` is the
    root)."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    """The plain ``--help`` of a command, as a fresh process prints it (no colours, fixed
    width)."""
    env = {**os.environ, "TYPER_USE_RICH": "0", "COLUMNS": WIDTH, "TERMINAL_WIDTH": WIDTH}
    done = subprocess.run(
        [sys.executable, "-m", "speeddata", *path, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return "\n".join(line.rstrip() for line in done.stdout.strip().splitlines())


def render() -> str:
    """The whole reference page."""
    from speeddata.cli import app

    parts = [HEAD]
    for path in command_paths(typer.main.get_command(app)):
        title = " ".join(("sdctl", *path))
        parts.append(f"## `{title}`\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run python -m speeddata.cli.reference", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
