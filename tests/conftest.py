"""Shared fixtures: the real relay binary, real processes, temp data dirs.

``SPEEDDATA_TEST_RELAY`` names another relay binary to test (``make test-relay-asan`` runs the
relay tests with the ASan/UBSan build); a sanitizer report on a started process's stderr fails
the test that started it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from speeddata.config import ROOT
from tests.procs import Proc

# the registry's fixtures (pg_server, db_url, client), the browser's (playwright, browser)
pytest_plugins = ["tests.registrytools", "tests.browsertools"]

RELAY_BINARY = Path(
    os.environ.get("SPEEDDATA_TEST_RELAY") or ROOT / "native" / "zmq_relay" / "build" / "zmq_relay"
).absolute()

SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
"""What AddressSanitizer, LeakSanitizer and UBSan print at the start of a report."""


@pytest.fixture(scope="session")
def relay_binary() -> Path:
    if not RELAY_BINARY.exists():
        pytest.fail(f"{RELAY_BINARY} is not built: run `make relay` (make test builds it)")
    return RELAY_BINARY


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    """Append started processes here; they are stopped at teardown, newest first. A process
    that printed a sanitizer report fails the test."""
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()
    reports = [
        f"{p.argv[0]} (pid {p.pid}): {line}"
        for p in started
        for line in p.lines
        if any(marker in line for marker in SANITIZER_REPORTS)
    ]
    if reports:
        pytest.fail("sanitizer report:\n" + "\n".join(reports), pytrace=False)
