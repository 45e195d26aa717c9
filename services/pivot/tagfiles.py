"""A tag on disk: its pin ``<data>/tags/<name>.json`` (the tag's record: what it asked, its
state, and once done its file's size, record counts and sha256) and its file
``<data>/tags/<name>.h5`` (``.csv``/``.parquet`` for one channel, ``.zip`` for several, when
another format was asked).

The pin is created whole or not at all (written under a temporary name, fsync'd, then linked
to its final name, which fails when the name is taken) and replaced whole afterwards
(:func:`speeddata.pins.write_json_durably`). The file is written under a temporary name,
fsync'd, renamed to its final name and the folder fsync'd; only then does the pin say
``done``. So after a crash the final name holds a whole file or nothing, and a pin still
``pending`` is exported again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from services.pivot.plan import make_plan, read
from services.pivot.query import ExportQuery
from services.pivot.tables import WRITERS, zip_pieces
from speeddata._weberrors import ApiError
from speeddata.columnar import ChannelColumns
from speeddata.config import Settings
from speeddata.hdf5 import write_hdf5
from speeddata.pins import DONE, FAILED, PENDING, fsync_dir, pin_path, tags_dir, write_json_durably
from speeddata.timespec import format_ns

EXTENSIONS = {"hdf5": "h5", "csv": "csv", "parquet": "parquet"}
TMP_PREFIX = "."
"""Temporary files in the tags folder start with a dot and end ``.<pid>.tmp`` (the writer's)."""


class TagTaken(Exception):
    """A tag of that name exists."""


def new_doc(name: str, query: ExportQuery, note: str) -> dict[str, Any]:
    """The pin of a new tag, pending."""
    signals = [f"{c}.{s}" for c, names in query.signals.items() for s in names]
    return {
        "name": name,
        "state": PENDING,
        "reason": "",
        "channels": list(query.channels),
        "signals": signals or None,
        "start": format_ns(query.start_ns),
        "end": format_ns(query.end_ns),
        "start_ns": query.start_ns,
        "end_ns": query.end_ns,
        "clock": query.clock,
        "format": query.format,
        "note": note,
        "created_ns": time.time_ns(),
        "finished_ns": None,
        "file": None,
        "size": None,
        "sha256": None,
        "records": None,
    }


def query_of(doc: dict[str, Any]) -> ExportQuery:
    """The export a tag's pin asks."""
    signals: dict[str, list[str]] = {}
    for item in doc.get("signals") or []:
        channel, _, signal = str(item).partition(".")
        signals.setdefault(channel, []).append(signal)
    return ExportQuery(
        start_ns=int(doc["start_ns"]),
        end_ns=int(doc["end_ns"]),
        channels=tuple(doc["channels"]),
        signals={c: tuple(s) for c, s in signals.items()},
        format=str(doc.get("format") or "hdf5"),
        clock=str(doc.get("clock") or "device"),
    )


def file_name(name: str, doc: dict[str, Any]) -> str:
    fmt = str(doc.get("format") or "hdf5")
    if fmt != "hdf5" and len(doc["channels"]) > 1:
        return f"{name}.zip"
    return f"{name}.{EXTENSIONS[fmt]}"


def create_pin(data_dir: Path, doc: dict[str, Any]) -> None:
    """Writes a new tag's pin, durably; :class:`TagTaken` when the name is taken."""
    folder = tags_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = pin_path(data_dir, doc["name"])
    tmp = folder / f"{TMP_PREFIX}{doc['name']}.new.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, final)  # fails when the name is taken: no pin is ever overwritten here
    except FileExistsError:
        raise TagTaken(doc["name"]) from None
    finally:
        tmp.unlink()
    fsync_dir(folder)


def read_doc(data_dir: Path, name: str) -> dict[str, Any] | None:
    """The pin of tag ``name``; None when there is none (or it is not a tag's)."""
    try:
        doc = json.loads(pin_path(data_dir, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("name") == name else None


def names(data_dir: Path) -> list[str]:
    try:
        return sorted(
            p.stem for p in tags_dir(data_dir).glob("*.json") if not p.name.startswith(TMP_PREFIX)
        )
    except OSError:
        return []


def export(doc: dict[str, Any], settings: Settings, registry: Any) -> dict[str, Any]:
    """Exports the tag to its file (blocking) and returns its pin as ``done``, or ``failed``
    with the reason when the range cannot be exported."""
    name = doc["name"]
    query = query_of(doc)
    try:
        plan = make_plan(query, settings, registry)
        columns = read(plan, settings)
    except ApiError as e:
        return {**doc, "state": FAILED, "reason": e.detail, "finished_ns": time.time_ns()}
    folder = tags_dir(settings.data_dir)
    final = folder / file_name(name, doc)
    tmp = folder / f"{TMP_PREFIX}{name}.file.{os.getpid()}.tmp"
    try:
        with open(tmp, "w+b") as f:
            _write(f, query, columns, settings)
            f.flush()
            os.fsync(f.fileno())
            size, digest = _digest(f)
        os.replace(tmp, final)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return {
        **doc,
        "state": DONE,
        "reason": "",
        "finished_ns": time.time_ns(),
        "file": final.name,
        "size": size,
        "sha256": digest,
        "records": {c.channel: c.rows for c in columns},
    }


def _write(
    f: IO[bytes], query: ExportQuery, columns: list[ChannelColumns], settings: Settings
) -> None:
    if query.format == "hdf5":
        write_hdf5(columns, f, compression=settings.pivot.compression, start_ns=query.start_ns,
                   end_ns=query.end_ns, clock=query.clock)  # fmt: skip
        return
    write, ext, method = WRITERS[query.format]
    if len(columns) == 1:
        pieces = write(columns[0])
    else:
        pieces = zip_pieces(((f"{c.channel}.{ext}", write(c)) for c in columns), method)
    for piece in pieces:
        f.write(piece)


def _digest(f: IO[bytes]) -> tuple[int, str]:
    f.seek(0)
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


def save(data_dir: Path, doc: dict[str, Any]) -> None:
    write_json_durably(pin_path(data_dir, doc["name"]), doc)


def remove(data_dir: Path, name: str, doc: dict[str, Any]) -> None:
    """Removes the tag's file, then its pin."""
    remove_file(data_dir, name, doc)
    with contextlib.suppress(FileNotFoundError):
        pin_path(data_dir, name).unlink()
    fsync_dir(tags_dir(data_dir))


def remove_file(data_dir: Path, name: str, doc: dict[str, Any]) -> None:
    with contextlib.suppress(FileNotFoundError):
        (tags_dir(data_dir) / file_name(name, doc)).unlink()


def leftovers(data_dir: Path) -> list[Path]:
    """Temporary files of this data dir's tags whose writer is no longer alive."""
    out = []
    try:
        entries = list(tags_dir(data_dir).glob(f"{TMP_PREFIX}*.tmp"))
    except OSError:
        return []
    for path in entries:
        parts = path.name.split(".")
        pid = parts[-2] if len(parts) >= 4 else ""
        if not pid.isdigit() or not _alive(int(pid)):
            out.append(path)
    return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
