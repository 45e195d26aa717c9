"""speeddata._signals: the stop flag of SIGTERM/SIGINT, and dying with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from speeddata._signals import PARENT_PID_ENV, stop_on_signals

CHILD = (
    "import os, time\n"
    "from speeddata._signals import die_with_parent\n"
    "die_with_parent()\n"
    f"print(os.environ.get({PARENT_PID_ENV!r}), flush=True)\n"
    "time.sleep(0.2)\n"
)


def run_child(parent_pid: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, PARENT_PID_ENV: str(parent_pid)}
    return subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=30
    )


def test_signals_set_the_stop_flag_and_the_old_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_child_of_a_living_parent_runs_and_passes_no_request_on() -> None:
    done = run_child(os.getpid())
    assert (done.returncode, done.stdout) == (0, "None\n"), done.stderr


def test_a_child_whose_parent_is_gone_already_terminates() -> None:
    done = run_child(1)  # not its parent: as if the parent died before the request took effect
    assert done.returncode == -signal.SIGTERM and done.stdout == ""
