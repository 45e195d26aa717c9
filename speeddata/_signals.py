"""How a SpeedData process ends: SIGTERM and SIGINT set a stop flag that its loop checks, and a
child of ``sdctl up`` dies with it (Linux parent-death signal)."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

PARENT_PID_ENV = "SPEEDDATA_PARENT_PID"
"""Set by a parent in a child's environment: the child calls :func:`die_with_parent`."""

_PR_SET_PDEATHSIG = 1


@contextmanager
def stop_on_signals(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """Within the block, SIGTERM and SIGINT set the yielded event (``stop``, or a new one);
    the previous handlers come back after it. Outside the main thread, where Python cannot set
    handlers, the event is only set by whoever holds it."""
    event = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, lambda *_: event.set()) for signum in signals}
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def parent_env(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Asks the child started with ``env`` to die with this process (see
    :func:`die_with_parent`); returns ``env``."""
    env[PARENT_PID_ENV] = str(os.getpid())
    return env


def die_with_parent(environ: MutableMapping[str, str] | None = None) -> None:
    """When the parent asked for it (:data:`PARENT_PID_ENV`): receive SIGTERM when the parent
    dies, even by SIGKILL (``PR_SET_PDEATHSIG``, as the relay's ``--die-with-parent``). A
    parent that is gone already gets this process SIGTERM at once. The variable is removed,
    so this process's own children do not inherit the request. Call it first thing in
    ``main``, in the main thread."""
    env = os.environ if environ is None else environ
    wanted = env.pop(PARENT_PID_ENV, None)
    if wanted is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if str(os.getppid()) != wanted:  # the parent died before the request took effect
        signal.raise_signal(signal.SIGTERM)
