"""Is one service of this installation ready? ``sdctl health SERVICE``, and the lighter
``python -m speeddata.health SERVICE`` (no CLI framework to import: what a container's
healthcheck runs every few seconds): exit 0 when it is, else one line saying why and exit 1.

- HTTP services (registry, pivot, stripchart): their health path answers 200 where they listen.
- bus: a ``bus.status`` comes through the proxy's XPUB (its last-value cache has one at once).
- ingest: a supervisor holds the data dir's lock (``<data>/run/ingest.lock``).
- janitor: a ``janitor.status`` comes on the bus from a janitor process alive on this host
  (the pid of its ``source``, in this PID namespace: in a container, that container's)."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from speeddata.bus import Subscriber
from speeddata.config import Settings, SettingsError, load_settings

HTTP = {"registry": "/health", "pivot": "/api/v1/health", "stripchart": "/health"}
"""HTTP services: the settings section (same name, with ``bind`` and ``port``) and the path."""


Check = Callable[[Settings, float], str | None]
"""A service's check: None when it is ready, else why not."""


def problem(service: str, settings: Settings, timeout: float) -> str | None:
    """None when ``service`` is ready, else why not; KeyError for an unknown service."""
    return checks()[service](settings, timeout)


def checks() -> dict[str, Check]:
    http: dict[str, Check] = {name: _http_check(name) for name in HTTP}
    return {"bus": _bus, **http, "ingest": _ingest, "janitor": _janitor}


def http_url(settings: Settings, section: str, path: str) -> str:
    """``path`` on the address a service of ``section`` listens on (a wildcard bind is asked
    on loopback)."""
    part = getattr(settings, section)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(part.bind, part.bind)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{part.port}{path}"


def _http_check(section: str) -> Check:
    def check(settings: Settings, timeout: float) -> str | None:
        url = http_url(settings, section, HTTP[section])
        try:
            r = httpx.get(url, timeout=timeout)
        except httpx.HTTPError as e:
            return f"GET {url}: {e or type(e).__name__}"
        return None if r.status_code == 200 else f"GET {url}: HTTP {r.status_code}"

    return check


def _heard(settings: Settings, topic: str, timeout: float, ok: Callable[[str], bool]) -> bool:
    with Subscriber(topic, settings) as sub:
        while (event := sub.recv(timeout)) is not None:
            if ok(event.source):
                return True
    return False


def _bus(settings: Settings, timeout: float) -> str | None:
    if _heard(settings, "bus.status", timeout, lambda source: True):
        return None
    return f"no bus.status from {settings.bus.xpub} within {timeout:g} s"


def _janitor(settings: Settings, timeout: float) -> str | None:
    if _heard(settings, "janitor.status", timeout, _local):
        return None
    return f"no janitor.status from a janitor of this host within {timeout:g} s"


def _local(source: str) -> bool:
    """True when the process named by an event's source (``<service>/<subject>/<pid>-<ns>``)
    runs here."""
    pid = source.rpartition("/")[2].partition("-")[0]
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


def _ingest(settings: Settings, timeout: float) -> str | None:
    path = settings.data_dir / "run" / "ingest.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return f"no supervisor lock {path}: {e.strerror}"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return None  # a supervisor holds it
    finally:
        os.close(fd)
    return f"no supervisor holds {path}"


def main(argv: list[str] | None = None) -> int:
    """``python -m speeddata.health SERVICE [TIMEOUT_S]``, settings from the environment."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0] not in checks():
        print(f"usage: python -m speeddata.health {{{','.join(checks())}}} [TIMEOUT_S]",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        why = problem(args[0], load_settings(), float(args[1]) if len(args) > 1 else 5.0)
    except (SettingsError, ValueError) as e:
        why = str(e)
    if why:
        print(f"{args[0]} is not ready: {why}", file=sys.stderr)
        return 1
    print(f"{args[0]} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
