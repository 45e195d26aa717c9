"""logfmt lines (``event=ready service=ingest pid=42``): format, parse, and forward the lines
of child processes."""

from __future__ import annotations

import queue
import shlex
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, TextIO


def format_line(**fields: Any) -> str:
    """``key=value`` pairs in the given order; values with spaces, quotes or ``=`` are quoted."""
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items())


def log(stream: TextIO | None = None, **fields: Any) -> None:
    """Writes one logfmt line to ``stream`` (stderr by default) and flushes it."""
    out = stream or sys.stderr
    out.write(format_line(**fields) + "\n")
    out.flush()


def error_line(service: str, error: object, **fields: Any) -> str:
    """The one shape of an error line of every SpeedData process:
    ``event=error service=<service> error="<text>" ...`` (the relay's fatal line carries its
    text under the same ``error`` key)."""
    return format_line(event="error", service=service, error=str(error), **fields)


def log_error(service: str, error: object, stream: TextIO | None = None, **fields: Any) -> None:
    """Writes :func:`error_line` to ``stream`` (stderr by default) and flushes it."""
    out = stream or sys.stderr
    out.write(error_line(service, error, **fields) + "\n")
    out.flush()


def error_text(line: str) -> str:
    """What went wrong, from a process's last line: its ``error`` value when it is a logfmt
    error line, else the line itself."""
    return parse_line(line).get("error") or line


def is_error_line(line: str) -> bool:
    """True for a logfmt line that reports an error: ``event=error`` or ``event=fatal``, an
    event named ``..._error`` or ``..._fault``, or ``level=error``/``level=fatal``."""
    fields = parse_line(line)
    event = fields.get("event", "")
    return (
        event in ("error", "fatal")
        or event.endswith(("_error", "_fault"))
        or fields.get("level") in ("error", "fatal")
    )


def is_logfmt(line: str) -> bool:
    """True for a logfmt event line (it has an ``event`` or ``level`` key)."""
    fields = parse_line(line)
    return "event" in fields or "level" in fields


def parse_line(line: str) -> dict[str, str]:
    """The ``key=value`` pairs of a logfmt line (quoted values unquoted; other words ignored)."""
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    out: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and key:
            out[key] = value
    return out


def _value(value: Any) -> str:
    text = "" if value is None else str(value)
    if text and not any(c in text for c in ' "=\\\t\n'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class LineForwarder:
    """Drains child processes' output pipes and forwards their lines to one stream.

    A reader thread per pipe always keeps reading, so a child never blocks on a full pipe; a
    single writer thread writes to ``stream`` through a bounded queue, so a stalled stream
    drops lines (counted in :attr:`dropped`) instead of stalling the children."""

    def __init__(self, stream: TextIO | None = None, capacity: int = 10_000) -> None:
        self._stream = stream or sys.stderr
        self._queue: queue.Queue[str | None] = queue.Queue(capacity)
        self.dropped = 0
        self._writer = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self._writer.start()

    def drain(
        self, pipe: IO[bytes], prefix: str = "", on_line: Callable[[str], None] | None = None
    ) -> threading.Thread:
        """Reads ``pipe`` to its end in a thread; each line is passed to ``on_line`` and
        forwarded as ``prefix + line``. Returns the (daemon) thread."""
        thread = threading.Thread(
            target=self._read, args=(pipe, prefix, on_line), name=f"drain {prefix}", daemon=True
        )
        thread.start()
        return thread

    def emit(self, line: str) -> None:
        """Queues one line for the stream (dropped and counted when the queue is full)."""
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 2.0) -> None:
        """Writes what is queued (for at most ``timeout`` seconds) and stops the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._writer.join(timeout)

    def _read(self, pipe: IO[bytes], prefix: str, on_line: Callable[[str], None] | None) -> None:
        with pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if on_line is not None:
                    on_line(line)
                self.emit(prefix + line)

    def _write(self) -> None:
        while (line := self._queue.get()) is not None:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                self.dropped += 1
