"""One supervised relay: its process, its readiness, and its restart back-off."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from speeddata._process import ChildProcess, exit_status
from speeddata.logfmt import LineForwarder

Notify = Callable[..., None]
"""Called as ``notify(action, **fields)`` with the IngestRelay fields of the action
(started, exited, backoff, stopped)."""


@dataclass
class Backoff:
    """Capped exponential restart delay that starts over after a stable run."""

    initial: float
    maximum: float
    stable_after: float
    delay: float | None = None

    def next(self, ran_s: float) -> float:
        """The delay before the next start of a process that ran ``ran_s`` seconds."""
        if self.delay is None or ran_s >= self.stable_after:
            self.delay = self.initial
        else:
            self.delay = min(self.delay * 2, self.maximum)
        return self.delay


class SupervisedRelay:
    """A relay process kept running: started, watched, restarted after a back-off.

    States: ``idle`` (never started), ``starting`` (no readiness line yet), ``running``,
    ``backoff`` (exited, restart due at :attr:`restart_at`), ``stopping`` (retired: SIGTERM
    sent, SIGKILL at its deadline), ``stopped``."""

    def __init__(
        self,
        channel: str,
        argv: Sequence[str],
        backoff: Backoff,
        logs: LineForwarder,
        notify: Notify,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.argv = list(argv)
        self.state = "idle"
        self.restarts = 0
        self.restart_at = 0.0
        self._backoff = backoff
        self._logs = logs
        self._notify = notify
        self._clock = clock
        self._proc: ChildProcess | None = None
        self._started_at = 0.0
        self._kill_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def launch(self) -> None:
        """Starts the relay; its stderr is drained and forwarded with ``channel=``. A relay
        that cannot be spawned at all counts as one that exited at once."""
        self._started_at = self._clock()
        try:
            self._proc = ChildProcess(
                self.channel, self.argv, self._logs, f"channel={self.channel} "
            )
        except OSError as e:
            self._proc = None
            self._ended(pid=None, code=None, detail=f"cannot start {self.argv[0]}: {e.strerror}")
            return
        self.state = "starting"

    def poll(self) -> None:
        """Advances the state machine: readiness, exit, restart when the back-off is over,
        the end of a retired relay."""
        if self.state == "stopping":
            self._poll_stopping()
            return
        if self.state == "backoff" and self._clock() >= self.restart_at:
            self.restarts += 1
            self.launch()
        if self.state not in ("starting", "running") or self._proc is None:
            return
        code = self._proc.poll()
        if self.state == "starting" and self._proc.ready is not None:
            self.state = "running"
            self._notify("started", pid=self._proc.pid)
        if code is not None:
            self._ended(pid=self._proc.pid, code=code, detail=self._proc.last_error)

    def retire(self, grace_s: float) -> None:
        """Stops the relay without waiting (its channel was removed or changed): SIGTERM now,
        SIGKILL after ``grace_s``; :meth:`poll` reports ``stopped`` once it exited. A relay
        that was not running is stopped at once."""
        if self.state in ("starting", "running") and self._proc is not None:
            self._proc.signal(signal.SIGTERM)
            self._kill_at = self._clock() + grace_s
            self.state = "stopping"
            return
        if self.state != "stopped":
            self.state = "stopped"
            self._notify("stopped", pid=None, exit_code=None, signal=None)

    def _poll_stopping(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self.state = "stopped"
            self._notify("stopped", pid=self._proc.pid, runtime_s=self._ran(), **exit_status(code))
        elif self._clock() >= self._kill_at:
            self._proc.signal(signal.SIGKILL)

    def signal(self, signum: int) -> None:
        """Sends ``signum`` to the relay if it is alive."""
        if self._proc is not None:
            self._proc.signal(signum)

    def finish(self, deadline: float) -> None:
        """Waits for the relay to exit until ``deadline`` (monotonic), then kills it; reports
        ``stopped`` for a relay that was running."""
        was_alive = self.state in ("starting", "running", "stopping")
        if self._proc is not None and was_alive:
            code = self._proc.wait_or_kill(deadline - time.monotonic())
            self._notify("stopped", pid=self._proc.pid, runtime_s=self._ran(), **exit_status(code))
        self.state = "stopped"

    def _ended(self, pid: int | None, code: int | None, detail: str) -> None:
        """Reports the end (``detail``: the relay's last error line, or why it could not be
        spawned) and schedules the restart."""
        ran = self._ran()
        ending = {"pid": pid, **exit_status(code), "runtime_s": ran, "detail": detail}
        self._notify("exited", **ending)
        delay = self._backoff.next(ran)
        self.restart_at = self._clock() + delay
        self.state = "backoff"
        self._notify("backoff", delay_s=delay, **ending)

    def _ran(self) -> float:
        return self._clock() - self._started_at
