"""Pins: the files ``<data>/tags/<name>.json`` that keep a tag's range of the archive from the
janitor until the tag's export is done.

A pin is written (fsync'd, renamed into place, its directory fsync'd) before the tag's request
is answered; the pivot rewrites it as the export goes (``state`` pending, done or failed). While
its state is ``pending`` it covers every archive file of its ``channels`` that may hold a record
of ``[start_ns, end_ns)`` on its ``clock``. The janitor reads the pins again right before each
unlink (:func:`read_pins`). A pin that cannot be read covers every file: a pin is only ever
replaced whole, so an unreadable one is someone else's file, and keeping the archive is the
safe way to be wrong."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PENDING = "pending"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, DONE, FAILED)
UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True)
class Pin:
    """What the janitor needs of a pin: its channels, its range (ns since the epoch) on
    ``clock`` (``device`` or ``rx``) and its state. ``channels`` is empty for an unreadable
    pin, which covers everything (:attr:`covers_all`)."""

    name: str
    path: Path
    channels: tuple[str, ...]
    start_ns: int
    end_ns: int
    clock: str
    state: str
    problem: str = ""

    @property
    def pending(self) -> bool:
        return self.state == PENDING

    @property
    def covers_all(self) -> bool:
        """True for a pin that could not be read: it protects every archive file."""
        return bool(self.problem)

    def covers(self, channel: str, spans: Iterable[tuple[int, int] | None]) -> bool:
        """True when this pending pin protects a file of ``channel`` whose records lie within
        one of ``spans`` (``(first_ns, last_ns)`` on the rx clock, then on the device clock;
        ``None`` when unknown, which is covered)."""
        if not self.pending:
            return False
        if self.covers_all:
            return True
        if channel not in self.channels:
            return False
        for span in spans:
            if span is None:
                return True
            low, high = min(span), max(span)
            if low < self.end_ns and high >= self.start_ns:
                return True
        return False


def tags_dir(data_dir: str | os.PathLike[str]) -> Path:
    """``<data>/tags``: pins and tag files."""
    return Path(data_dir) / "tags"


def pin_path(data_dir: str | os.PathLike[str], name: str) -> Path:
    return tags_dir(data_dir) / f"{name}.json"


def read_pins(data_dir: str | os.PathLike[str]) -> list[Pin]:
    """Every pin of the data dir, pending or not (unreadable ones as pending and covering
    everything); none when there is no ``tags`` folder."""
    try:
        entries = sorted(tags_dir(data_dir).glob("*.json"))
    except OSError:
        return []
    pins = []
    for path in entries:
        if path.name.startswith("."):
            continue  # a pin being written (temporary name)
        pin = read_pin(path)
        if pin is not None:
            pins.append(pin)
    return pins


def read_pin(path: Path) -> Pin | None:
    """The pin of ``path``; None when the file is gone."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return _unreadable(path, f"cannot read: {e}")
    try:
        return pin_of(path, doc)
    except (KeyError, TypeError, ValueError) as e:
        return _unreadable(path, f"not a pin: {e!r}")


def pin_of(path: Path, doc: dict[str, Any]) -> Pin:
    """The pin a document describes; raises ``KeyError``, ``TypeError`` or ``ValueError``."""
    channels = doc["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise TypeError("channels must be a list of names")
    state = doc["state"]
    if state not in STATES:
        raise ValueError(f"state {state!r}")
    clock = doc.get("clock", "device")
    if clock not in ("device", "rx"):
        raise ValueError(f"clock {clock!r}")
    return Pin(
        name=str(doc.get("name", path.stem)),
        path=path,
        channels=tuple(channels),
        start_ns=int(doc["start_ns"]),
        end_ns=int(doc["end_ns"]),
        clock=clock,
        state=state,
    )


def _unreadable(path: Path, problem: str) -> Pin:
    return Pin(path.stem, path, (), 0, 0, "rx", PENDING, problem)


def write_json_durably(path: Path, doc: dict[str, Any]) -> None:
    """Writes ``doc`` as ``path``: a temporary name in the same folder, fsync'd, renamed over
    ``path``, then the folder fsync'd, so after a crash ``path`` is the old or the new file,
    whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """fsync of a folder: the names created, renamed or removed in it are on disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
