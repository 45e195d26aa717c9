"""Real processes for tests: start, wait for the readiness line, stop (TERM, wait, KILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from speeddata.logfmt import parse_line

READY_TIMEOUT = 15.0


parse_logfmt = parse_line
"""`event=ready service=relay udp=127.0.0.1:26000` -> dict: the library's logfmt parser."""


class Proc:
    """A started process whose stderr is collected line by line in the background."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None, cwd: Path | None) -> None:
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
        )
        self.lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.popen.stderr, self.lines), daemon=True),
            threading.Thread(
                target=self._pump, args=(self.popen.stdout, self.stdout_lines), daemon=True
            ),
        ]
        for t in self._threads:
            t.start()
        self.ready: dict[str, str] = {}

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _pump(self, stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, predicate, timeout: float = READY_TIMEOUT) -> str:  # type: ignore[no-untyped-def]
        """Waits for a stderr line satisfying `predicate`; fails loudly with what was printed."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._alive_pumps()):
                    raise AssertionError(
                        f"{self.argv[0]}: no expected line within {timeout}s "
                        f"(exit={self.popen.poll()}):\n" + "\n".join(self.lines[-30:])
                    )
                self._cond.wait(min(left, 0.1))

    def _alive_pumps(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, str]:
        line = self.wait_line(lambda s: s.startswith("event=ready"), timeout)
        self.ready = parse_line(line)
        return self.ready

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for t in self._threads:
            t.join(2)
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def start(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    wait_ready: bool = True,
) -> Proc:
    """Starts `argv` and (by default) waits for its `event=ready` line."""
    proc = Proc(argv, env, cwd)
    if wait_ready:
        try:
            proc.wait_ready()
        except BaseException:
            proc.stop()
            raise
    return proc


def wait_until(condition, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Polls `condition()` until it returns a truthy value, which is returned; fails loudly."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
