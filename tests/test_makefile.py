"""The Makefile's own targets: `make help` lists every target, `make install` puts sdctl and
the relay in a venv at PREFIX, with no deprecation warning from our packaging."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from speeddata.config import ROOT


def make(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs make in the checkout, not as part of a calling make (its flags left out)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_every_target_with_one_line() -> None:
    done = make("help")
    assert done.returncode == 0, done.stderr
    listed = dict(line.split(None, 1) for line in done.stdout.splitlines())
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony is not None
    assert sorted(listed) == sorted(phony.group(1).split())
    assert all(doc.strip() for doc in listed.values())


def test_install_puts_sdctl_and_the_relay_in_a_venv_at_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    done = make("install", f"PREFIX={prefix}", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "deprecat" not in (done.stdout + done.stderr).lower(), done.stderr
    built = ROOT / "native" / "zmq_relay" / "build" / "zmq_relay"
    assert (prefix / "bin" / "zmq_relay").read_bytes() == built.read_bytes()
    sdctl = subprocess.run(
        [prefix / "bin" / "sdctl", "--help"], capture_output=True, text=True, timeout=60
    )
    assert sdctl.returncode == 0 and "serve" in sdctl.stdout, sdctl.stderr
    root = subprocess.run(
        [prefix / "bin" / "python", "-c", "from speeddata.config import ROOT; print(ROOT)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert root.stdout.strip() == str(ROOT)  # config/ and proto/ of this checkout
