"""Downloading an export from the pivot (``GET /api/v1/pivot/export``) into a file, with a
progress callback: what ``Client.export`` and ``sdctl export`` share.

The body goes to ``<target>.part`` beside the target and is renamed over it once whole, so a
failed or interrupted download never leaves a file that looks complete."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from speeddata._http import Unreachable, error_of

API = "/api/v1"
Progress = Callable[[int, int | None], None]
"""Called with the bytes received so far and the total (``None`` when not known)."""


@dataclass
class Download:
    """A finished download: where it is and what the pivot said of it."""

    path: Path
    records: int
    channel_records: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def pivot_url(settings: Any) -> str:
    """The pivot's root URL of ``settings`` (its ``pivot.bind`` and ``pivot.port``)."""
    host = settings.pivot.bind
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{settings.pivot.port}"


def export_params(
    start: str,
    channels: str | Sequence[str],
    *,
    end: str | None = None,
    duration: str | None = None,
    signals: str | Sequence[str] | None = None,
    format: str = "hdf5",
    time: str | None = None,
) -> dict[str, str]:
    """The query of an export; lists may be given as sequences or comma-separated text."""
    params = {"start": start, "channels": _joined(channels), "format": format}
    for key, value in (("end", end), ("duration", duration), ("time", time)):
        if value is not None:
            params[key] = value
    if signals:
        params["signals"] = _joined(signals)
    return params


def download(
    url: str,
    params: dict[str, str],
    target: Path | None,
    *,
    directory: Path | None = None,
    progress: Progress | None = None,
    timeout: float = 600.0,
) -> Download:
    """Saves the export to ``target`` (default: the file name the pivot suggests, in
    ``directory`` or the working dir). Raises the typed ClientError of a refusal."""
    saved: list[Path] = []

    def save(response: httpx.Response) -> None:
        path = target or (directory or Path.cwd()) / _suggested(response, params)
        part = path.with_name(path.name + ".part")
        try:
            with open(part, "wb") as out:
                copy_body(response, out.write, progress)
            os.replace(part, path)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        saved.append(path)

    headers = stream_export(url, params, save, timeout)
    return _finished(saved[0], headers)


def stream_export(
    url: str,
    params: dict[str, str],
    consume: Callable[[httpx.Response], None],
    timeout: float = 600.0,
) -> httpx.Headers:
    """Asks the pivot at ``url`` for an export; ``consume`` reads a successful response's
    body. Returns its headers; raises the typed ClientError of a refusal, :class:`Unreachable`
    when the pivot does not answer."""
    root = url.rstrip("/")
    root = root if root.endswith(API) else root + API
    limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    try:
        with (
            httpx.Client(timeout=limits) as http,
            http.stream("GET", root + "/pivot/export", params=params) as response,
        ):
            if not response.is_success:
                response.read()
                raise error_of(response)
            consume(response)
            return response.headers
    except httpx.TimeoutException:
        raise Unreachable(f"{root}: no answer in time", "timeout") from None
    except httpx.TransportError as e:
        why = str(e) or type(e).__name__
        raise Unreachable(f"cannot reach the pivot at {root}: {why}", "unreachable") from None


def copy_body(
    response: httpx.Response, write: Callable[[bytes], Any], progress: Progress | None = None
) -> None:
    """Writes the body piece by piece, telling ``progress`` as it goes."""
    length = response.headers.get("Content-Length", "")
    total = int(length) if length.isdigit() else None
    received = 0
    for piece in response.iter_bytes(1 << 20):
        write(piece)
        received += len(piece)
        if progress is not None:
            progress(received, total)


def _finished(path: Path, headers: httpx.Headers) -> Download:
    counts: dict[str, int] = {}
    for item in headers.get("X-SpeedData-Channel-Records", "").split(","):
        name, _, n = item.partition("=")
        if name and n.isdigit():
            counts[name] = int(n)
    records = headers.get("X-SpeedData-Records", "")
    return Download(
        path=path,
        records=int(records) if records.isdigit() else sum(counts.values()),
        channel_records=counts,
        headers=dict(headers),
    )


def _suggested(response: httpx.Response, params: dict[str, str]) -> str:
    """The file name of the pivot's Content-Disposition (a plain name only), else one of
    ours."""
    disposition = response.headers.get("Content-Disposition", "")
    _, _, name = disposition.partition('filename="')
    name = name.rstrip('"')
    if name and "/" not in name and "\\" not in name and not name.startswith("."):
        return name
    ext = {"hdf5": "h5"}.get(params.get("format", "hdf5"), params.get("format", "h5"))
    return f"speeddata-export.{ext}"


def _joined(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)
