"""The supervisor lock: one ingest supervisor per data dir (``<data>/run/ingest.lock``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class LockHeld(RuntimeError):
    """Another supervisor holds the lock; the message names its pid."""


class SupervisorLock:
    """An exclusive ``flock`` on ``path`` holding this process's pid, kept until :meth:`release`
    (or the process ends, even by SIGKILL: the kernel drops the lock with the descriptor).

    Raises :class:`LockHeld` when another process holds it, ``OSError`` when the file cannot be
    created. The descriptor is not inherited, so the relays never hold the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._fd)
            raise LockHeld(
                f"another ingest supervisor (pid {holder}) runs for the data dir "
                f"{path.parent.parent}; {path} is locked"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SupervisorLock:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
