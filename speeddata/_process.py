"""Child processes that announce readiness: started with stderr drained through a
:class:`~speeddata.logfmt.LineForwarder`, their ``event=ready`` line captured, stopped with
SIGTERM, a bounded wait, then SIGKILL. ``sdctl up``, the ingest supervisor and the benchmark
runner (bench/tools.py) use it."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from speeddata.logfmt import LineForwarder, error_text, is_error_line, is_logfmt, parse_line

KILL_WAIT_S = 5.0
"""How long to wait for a process to go after SIGKILL."""


class ChildProcess:
    """A started child; its stderr lines are forwarded with ``prefix`` by ``logs``.

    ``new_session`` puts it in a session of its own, so a terminal's Ctrl-C reaches only the
    parent, which stops its children in order. Its stdout is discarded unless ``on_stdout`` is
    given: then each stdout line is passed to it and forwarded like the stderr lines. Raises
    ``OSError`` when it cannot be spawned."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        logs: LineForwarder,
        prefix: str,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
        on_stdout: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._ready: dict[str, str] | None = None
        self._last_line = ""
        self._last_error = ""
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if on_stdout is None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            start_new_session=new_session,
        )
        assert self.popen.stderr is not None
        self._drainers = [logs.drain(self.popen.stderr, prefix, self._on_line)]
        if on_stdout is not None:
            assert self.popen.stdout is not None
            self._drainers.append(logs.drain(self.popen.stdout, prefix, on_stdout))

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def ready(self) -> dict[str, str] | None:
        """The fields of its readiness line; None until it printed one."""
        with self._cond:
            return self._ready

    def poll(self) -> int | None:
        """Its exit status once it exited (then its output is all read), else None."""
        code = self.popen.poll()
        if code is not None:
            self._join_drainers()
        return code

    def wait_ready(
        self, timeout: float, stop: threading.Event | None = None
    ) -> dict[str, str] | None:
        """Waits for the readiness line; returns its fields, or None when the child exited,
        ``timeout`` seconds passed or ``stop`` was set first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ready is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None or (stop and stop.is_set()):
                    break
                self._cond.wait(min(left, 0.1))
            return self._ready

    def error(self) -> str:
        """Why it failed, for one line: :attr:`last_error`, else the text of its last line."""
        last = self.last_error
        with self._cond:
            return last or (error_text(self._last_line) if self._last_line else "no output")

    @property
    def last_error(self) -> str:
        """The text (its ``error`` value, else the line) of its last error line: a logfmt
        error line (:func:`~speeddata.logfmt.is_error_line`) or a line that is not logfmt at
        all (a crash report, a usage text); empty when it printed none."""
        self.poll()
        with self._cond:
            return error_text(self._last_error) if self._last_error else ""

    def signal(self, signum: int) -> None:
        """Sends ``signum`` while it runs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait_or_kill(self, timeout: float) -> int:
        """Waits up to ``timeout`` seconds for it to exit, then SIGKILLs it; its exit status."""
        try:
            self.popen.wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(KILL_WAIT_S)
        self._join_drainers()
        return self.popen.returncode

    def stop(self, timeout: float) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait_or_kill(timeout)

    def _join_drainers(self) -> None:
        for drainer in self._drainers:
            drainer.join(1.0)

    def _on_line(self, line: str) -> None:
        with self._cond:
            if self._ready is None and line.startswith("event=ready"):
                self._ready = parse_line(line)
            if line.strip():
                self._last_line = line
                if is_error_line(line) or not is_logfmt(line):
                    self._last_error = line
            self._cond.notify_all()


def exit_status(code: int | None) -> dict[str, int | str | None]:
    """``exit_code`` and ``signal`` (its name) of a Popen return code, for events."""
    if code is None:
        return {"exit_code": None, "signal": None}
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return {"exit_code": None, "signal": name}
    return {"exit_code": code, "signal": None}
