"""Running the janitor: ``run(settings)`` (``sdctl serve janitor``, ``sdctl up``) and
``python -m services.janitor [--dry-run]``.

Stateless: a pass over the whole archive at the start, then one every ``janitor.interval_s``
and soon after a ``relay.file`` (a file closed: maybe one to delete) or an archive write error
(a full disk) on the bus. The channels' retention settings are read from the registry at the
start and every interval (and after a ``registry.channel`` event); while it does not answer,
the last answer holds (at first: the baseline channels of the settings). ``janitor.status``
goes out every second."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, TextIO

from services.janitor.retention import Janitor, Publish
from speeddata._http import ClientError
from speeddata._service import StartError
from speeddata._signals import die_with_parent, stop_on_signals
from speeddata.bus import Event, Publisher, Subscriber
from speeddata.catalog import registry_records
from speeddata.config import Settings, SettingsError, load_settings
from speeddata.logfmt import format_line, log_error

STATUS_S = 1.0
"""Period of ``janitor.status``."""
SOON_S = 0.2
"""Delay from a file event to the pass it brings (events of one rotation come together)."""
REGISTRY_TIMEOUT_S = 2.0
TOPICS = ["relay.file", "relay.error", "registry.channel"]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def dry_run(settings: Settings, out: TextIO | None = None) -> int:
    """One pass that deletes nothing and prints what it would delete; returns 0."""
    out = sys.stdout if out is None else out
    janitor = Janitor(settings, lambda topic, fields: None, dry_run=True, out=out)
    janitor.channel_configs = _configs(settings, {})
    janitor.run_pass()
    t = janitor.totals
    files, freed = sum(t.files.values()), sum(t.bytes.values())
    print(f"{files} files, {freed} bytes would be deleted; {t.pinned} kept for pins, "
          f"{t.held} held by relays", file=out)  # fmt: skip
    return 0


def run(
    settings: Settings,
    dry: bool = False,
    stop: threading.Event | None = None,
    publish: Publish | None = None,
) -> int:
    """Runs the janitor until SIGTERM/SIGINT (or ``stop``); with ``dry``, one dry pass.
    Raises :class:`StartError` when it cannot start."""
    if dry:
        return dry_run(settings)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StartError(f"data dir: {e}") from None
    signals = stop_on_signals() if stop is None else nullcontext(stop)
    publisher = None if publish is not None else Publisher("janitor", "retention", settings)
    send: Publish = publish if publish is not None else publisher.publish  # type: ignore[union-attr]
    try:
        with signals as quit_flag, Subscriber(TOPICS, settings) as sub:
            janitor = Janitor(settings, send, log=_say)
            _say(format_line(event="ready", service="janitor", pid=os.getpid(),
                             archive=str(settings.data_dir / "archive")))  # fmt: skip
            _loop(janitor, sub, quit_flag, send)
    finally:
        if publisher is not None:
            publisher.close()
    _say(format_line(event="stopped", service="janitor", pid=os.getpid()))
    return 0


def _loop(janitor: Janitor, sub: Subscriber, quit_flag: threading.Event, send: Publish) -> None:
    settings = janitor.settings
    interval = max(0.05, float(settings.janitor.interval_s))
    next_pass = next_configs = next_status = 0.0
    while not quit_flag.is_set():
        now = time.monotonic()
        if now >= next_configs:
            janitor.channel_configs = _configs(settings, janitor.channel_configs)
            next_configs = now + interval
        if now >= next_pass:
            _pass(janitor)
            next_pass = time.monotonic() + interval
        if time.monotonic() >= next_status:
            send("janitor.status", janitor.status_fields())
            next_status = time.monotonic() + STATUS_S
        event = sub.recv(timeout=min(0.1, max(0.0, next_pass - time.monotonic())))
        if event is not None:
            wake = _news(event)
            if wake == "configs":
                next_configs = 0.0
                next_pass = min(next_pass, time.monotonic() + SOON_S)
            elif wake == "pass":
                next_pass = min(next_pass, time.monotonic() + SOON_S)


def _pass(janitor: Janitor) -> None:
    deleted = janitor.run_pass()
    t = janitor.totals
    _say(format_line(event="pass", service="janitor", deleted=len(deleted),
                     freed=sum(e.size for e in deleted), files=t.archive_files,
                     bytes=t.archive_bytes, free=t.free_bytes, pinned=t.pinned, held=t.held,
                     seconds=round(t.pass_s, 3)))  # fmt: skip


def _news(event: Event) -> str:
    """What an event asks for: a pass soon, the channels' settings again, or nothing."""
    if event.topic.startswith("registry.channel."):
        return "configs"
    if event.topic.startswith("relay.file.") and event.fields.get("state") == "closed":
        return "pass"
    if event.topic.startswith("relay.error.") and event.fields.get("kind") in ("write", "open"):
        return "pass"
    return ""


def _configs(settings: Settings, last: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each channel's ``config``: the registry's, else ``last``, else the baseline's."""
    try:
        records = registry_records(settings, timeout=REGISTRY_TIMEOUT_S)
    except ClientError:
        if last:
            return last
        records = [c for c in settings.channels or [] if isinstance(c, dict)]
    return {str(r.get("name")): dict(r.get("config") or {}) for r in records}


def main(argv: Sequence[str] | None = None, run_: Callable[..., int] = run) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(
        prog="python -m services.janitor",
        description="The SpeedData janitor: deletes the oldest closed archive files by age, "
        "quota and free-disk floor, never one a relay holds or a pending tag's pin covers.",
    )
    parser.add_argument("--config", help="settings file (default: SPEEDDATA_CONFIG)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what one pass would delete, delete nothing"
    )
    args = parser.parse_args(argv)
    try:
        return run_(load_settings(config_file=args.config), dry=args.dry_run)
    except (SettingsError, StartError) as e:
        log_error("janitor", e)
        return 1
