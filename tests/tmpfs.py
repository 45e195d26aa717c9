"""A small real file system for tests of a full disk: a tmpfs mounted in a temp dir (root and
the mount permission needed; the test is skipped with the reason otherwise)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """``mnt`` (created) with a tmpfs of ``size`` (``2m``) mounted on it, unmounted after."""
    mnt.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a small tmpfs here (root and mount permission needed): "
            f"{done.stderr.strip()}"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Writes ``path`` until the file system has no space left."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    with open(path, "ab", buffering=0) as f:  # the last partial chunk's worth, byte-exact
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
