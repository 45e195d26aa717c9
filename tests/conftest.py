"""Shared fixtures: the real relay binary, real processes, temp data dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from speeddata.config import ROOT
from tests.procs import Proc

RELAY_BINARY = ROOT / "native" / "zmq_relay" / "build" / "zmq_relay"


@pytest.fixture(scope="session")
def relay_binary() -> Path:
    if not RELAY_BINARY.exists():
        pytest.fail(f"{RELAY_BINARY} is not built: run `make relay` (make test builds it)")
    return RELAY_BINARY


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    """Append started processes here; they are stopped at teardown, newest first."""
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()
