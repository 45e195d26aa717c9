"""Child processes of ``sdctl up``: started with their readiness line awaited, output forwarded
with their name, stopped in reverse order (SIGTERM, wait, SIGKILL)."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

from speeddata.cli._common import CliError
from speeddata.logfmt import LineForwarder, parse_line

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when ``sdctl up`` dies, even by SIGKILL (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One service process of ``sdctl up``."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], logs: LineForwarder):
        self.name = name
        self._ready: dict[str, str] | None = None
        self._tail: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C reaches sdctl up only; it stops the children in order
            preexec_fn=_die_with_parent,
        )
        assert self.popen.stderr is not None
        self._drainer = logs.drain(self.popen.stderr, f"{name:<8}| ", self._on_line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, timeout: float) -> dict[str, str]:
        """The fields of the child's readiness line; CliError when it exits or is too slow."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ready is None:
                left = deadline - time.monotonic()
                if self.popen.poll() is not None or left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            if self._ready is not None:
                return self._ready
        self._drainer.join(1.0)
        why = "exited" if self.popen.poll() is not None else f"was not ready after {timeout:g} s"
        last = self._tail[-1] if self._tail else "no output"
        last = parse_line(last).get("msg") or last
        raise CliError(f"{self.name} {why}: {last}")

    def stop(self, timeout: float) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._drainer.join(1.0)
        return self.popen.returncode

    def _on_line(self, line: str) -> None:
        with self._cond:
            if self._ready is None and line.startswith("event=ready"):
                self._ready = parse_line(line)
            self._tail = [*self._tail[-4:], line]
            self._cond.notify_all()
