"""``speeddata.Client``: the registry over HTTP (channels, their schemas and versions, ports),
the pivot's exports (:meth:`Client.export` returns a :class:`~speeddata.dataset.Set`) and tags
(:meth:`Client.tag`, :meth:`Client.tags`, :meth:`Client.get_tag`, :meth:`Client.delete_tag`).

Every call returns the decoded JSON of the answer; a failure raises a :class:`ClientError`
subclass that carries the HTTP status and the contract's error code (``exc.code``)::

    from speeddata import Client, Conflict

    with Client() as c:                       # the registry of the configured installation
        c.add_channel("sensor1", Path("sensor1.avsc"), config={"decimation": 10})
        try:
            c.update_channel("sensor1", schema=Path("sensor1_v2.avsc"))
        except Conflict as e:
            print(e.code, e.detail)           # incompatible_schema, "<field>: why"

The write token is ``token=``, else ``SPEEDDATA_TOKEN``, else the file ``<data dir>/token``
of the configured data dir."""

from __future__ import annotations

import json
import os
import tempfile
import time as _time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from speeddata._export import Download, Progress, download, export_params
from speeddata._export import pivot_url as _pivot_url
from speeddata._http import (
    ClientError,
    Conflict,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    Unreachable,
    UnsupportedMediaType,
    call,
    error_of,
    find_token,
    http_client,
)

if TYPE_CHECKING:
    from speeddata.dataset import Set

__all__ = [
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "Malformed",
    "NotFound",
    "ServerError",
    "TooLarge",
    "Unauthorized",
    "Unreachable",
    "UnsupportedMediaType",
    "pivot_url",
    "registry_url",
]

pivot_url = _pivot_url

API = "/api/v1"
SchemaSource = dict[str, Any] | str | Path
"""A schema: an inline Avro record schema (dict), the path of an ``.avsc`` inside the server
installation's ``config/`` folder (str, as the original clients send it), or a local file
(:class:`~pathlib.Path`), uploaded."""
PORT_TRIES = 20
"""How often :meth:`Client.add_channel` picks another free port when one was taken meanwhile."""


def registry_url(settings: Any) -> str:
    """The registry's root URL of ``settings`` (its ``registry.bind`` and ``registry.port``)."""
    host = settings.registry.bind
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{settings.registry.port}"


class Client:
    """The registry's REST API and the pivot's exports. ``url`` is the registry's root
    (``http://127.0.0.1:8080``, with or without ``/api/v1``), ``pivot_url`` the pivot's
    (``http://127.0.0.1:8000``); by default those of ``settings`` (else the configured
    settings)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        settings: Any = None,
        timeout: float = 10.0,
        pivot_url: str | None = None,
    ) -> None:
        if settings is None and (url is None or token is None):
            from speeddata.config import load_settings

            settings = load_settings()
        root = (url or registry_url(settings)).rstrip("/")
        self.url = root if root.endswith(API) else root + API
        data_dir = settings.data_dir if settings is not None else None
        self.token = find_token(token, data_dir)
        self._http = http_client(self.url, self.token, timeout)
        self._pivot_url = pivot_url or (_pivot_url(settings) if settings is not None else None)
        self._pivot_http: httpx.Client | None = None
        self._timeout = timeout

    @property
    def pivot_url(self) -> str:
        """The pivot's root URL: ``pivot_url=``, else ``pivot.bind``/``pivot.port`` of the
        settings (the configured ones when none were given)."""
        if self._pivot_url is None:
            from speeddata.config import load_settings

            self._pivot_url = _pivot_url(load_settings())
        return self._pivot_url.rstrip("/")

    # -- channels -------------------------------------------------------------------------

    def channels(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every channel record (only those in ``status`` when given)."""
        params = {"status": status} if status else None
        return list(self._call("GET", "/channels", params=params)["channels"])

    def channel(self, name: str) -> dict[str, Any]:
        """The record of channel ``name``; :class:`NotFound` when there is none."""
        return dict(self._call("GET", f"/channels/{_segment(name)}"))

    def add_channel(
        self,
        name: str,
        schema: SchemaSource,
        port: int | None = None,
        config: dict[str, Any] | None = None,
        time_field: str | None = None,
        time_unit: str | None = None,
    ) -> dict[str, Any]:
        """Registers a channel and returns its record. Without ``port`` a free one is asked
        of the registry (another is tried when someone takes it meanwhile)."""
        fields = {"name": name, "config": config, "time_field": time_field, "time_unit": time_unit}
        if port is not None:
            return self._register({**fields, "port": port}, schema)
        attempts = PORT_TRIES
        while True:
            free = self.ports_available()
            if not free:
                raise Conflict("no free port left in the channel range", "no_free_port", 409)
            try:
                return self._register({**fields, "port": free[0]}, schema)
            except Conflict as e:
                attempts -= 1
                if e.code != "port_taken" or attempts == 0:
                    raise

    def update_channel(
        self,
        name: str,
        *,
        schema: SchemaSource | None = None,
        config: dict[str, Any] | None = None,
        time_field: str | None = None,
        time_unit: str | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Changes a channel (``config`` keys merge; a None value removes a key) and returns
        its record. A new schema becomes the next version; one that cannot read the old data is
        :class:`Conflict` (``incompatible_schema``) unless ``force``."""
        fields = {"config": config, "time_field": time_field, "time_unit": time_unit}
        params = {"force": "true"} if force else None
        answer = self._send("PATCH", f"/channels/{_segment(name)}", fields, schema, params)
        return dict(answer["channel"])

    def remove_channel(self, name: str) -> dict[str, Any]:
        """Removes a channel (its relay stops, its archive stays); :class:`NotFound` when
        there is none."""
        return dict(self._call("DELETE", f"/channels/{_segment(name)}"))

    def schema(self, name: str) -> dict[str, Any]:
        """The channel's current schema."""
        return dict(self._call("GET", f"/channels/{_segment(name)}/schema"))

    def schemas(self, name: str) -> list[dict[str, Any]]:
        """Every schema version of the channel, oldest first (version, fingerprint, schema,
        created_at)."""
        return list(self._call("GET", f"/channels/{_segment(name)}/schemas")["versions"])

    def validate_schema(self, name: str, schema: dict[str, Any] | str) -> dict[str, Any]:
        """Would ``schema`` be accepted as the channel's next version? ``{"valid": True, ...}``,
        else the registry's verdict with ``"valid": False``, the error and its detail."""
        try:
            return dict(
                self._call("POST", f"/channels/{_segment(name)}/validate-schema",
                           json={"schema": schema})
            )  # fmt: skip
        except (Conflict, Invalid) as e:
            if "valid" not in e.extra:
                raise
            return {"error": e.code, "detail": e.detail, **e.extra}

    # -- ports and service ----------------------------------------------------------------

    def ports_available(self, start: int | None = None, end: int | None = None) -> list[int]:
        """Free channel ports of [start, end] (inclusive; the whole range by default)."""
        params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        return list(self._call("GET", "/ports/available", params=params)["available"])

    def port_status(self, port: int) -> dict[str, Any]:
        return dict(self._call("GET", f"/ports/{int(port)}/status"))

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    # -- exports (the pivot) ----------------------------------------------------------------

    def export(
        self,
        start: str,
        channels: str | Sequence[str],
        *,
        end: str | None = None,
        duration: str | None = None,
        signals: str | Sequence[str] | None = None,
        time: str | None = None,
        path: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
    ) -> Set:
        """The channels over ``[start, end)`` (or ``start`` + ``duration``) as a
        :class:`~speeddata.dataset.Set`, exported by the pivot as HDF5. Times are ISO 8601, ``now``
        or ``now-30s``; durations ISO 8601 (``PT30S``) or ``30s``; ``signals`` are
        ``channel.signal``; ``time`` ``device`` (default) or ``rx``. With ``path`` the file is
        kept there, else it is read from a temporary file that is removed."""
        from speeddata.dataset import read_hdf5

        params = export_params(
            start, channels, end=end, duration=duration, signals=signals, time=time
        )
        if path is not None:
            saved = download(self.pivot_url, params, Path(path), timeout=timeout)
            return read_hdf5(saved.path)
        with tempfile.TemporaryDirectory(prefix="speeddata-export-") as tmp:
            saved = download(self.pivot_url, params, Path(tmp) / "export.h5", timeout=timeout)
            return read_hdf5(saved.path)

    def export_file(
        self,
        start: str,
        channels: str | Sequence[str],
        path: str | os.PathLike[str] | None = None,
        *,
        end: str | None = None,
        duration: str | None = None,
        signals: str | Sequence[str] | None = None,
        format: str = "hdf5",
        time: str | None = None,
        progress: Progress | None = None,
        timeout: float = 600.0,
    ) -> Download:
        """Saves an export (``format`` ``hdf5``, ``csv`` or ``parquet``; several channels' CSV
        or Parquet come as one zip) to ``path`` (default: the name the pivot suggests, in the
        working dir); ``progress(received, total)`` is called as bytes arrive."""
        params = export_params(
            start, channels, end=end, duration=duration, signals=signals, format=format, time=time
        )
        target = Path(path) if path is not None else None
        return download(self.pivot_url, params, target, progress=progress, timeout=timeout)

    # -- tags (the pivot) -------------------------------------------------------------------

    def tag(
        self,
        name: str,
        start: str,
        channels: str | Sequence[str],
        *,
        end: str | None = None,
        duration: str | None = None,
        signals: str | Sequence[str] | None = None,
        note: str | None = None,
        format: str | None = None,
        time: str | None = None,
    ) -> dict[str, Any]:
        """Tags ``[start, end)`` (or ``start`` + ``duration``) of the channels: the pivot pins
        the range at once (the janitor keeps its archive files) and exports it to the tag's file
        in the background. Returns the tag, ``state`` ``pending``; :meth:`wait_tag` waits for
        ``done``. A taken name is a :class:`Conflict`."""
        body = {"name": name, "start": start, "channels": _listed(channels), "end": end,
                "duration": duration, "signals": _listed(signals) if signals else None,
                "note": note, "format": format, "time": time}  # fmt: skip
        given = {k: v for k, v in body.items() if v is not None}
        return dict(call(self._pivot(), "POST", "/tags", json=given))

    def tags(self) -> list[dict[str, Any]]:
        """Every tag (pending, done or failed)."""
        return list(call(self._pivot(), "GET", "/tags")["tags"])

    def get_tag(self, name: str) -> dict[str, Any]:
        """One tag: its state (``pending``, ``done``, ``failed`` with ``reason``), range, and
        once done its file's ``size``, ``records`` per channel and ``sha256``."""
        return dict(call(self._pivot(), "GET", f"/tags/{_segment(name)}"))

    def delete_tag(self, name: str) -> dict[str, Any]:
        """Deletes the tag and its file (needs the token)."""
        return dict(call(self._pivot(), "DELETE", f"/tags/{_segment(name)}"))

    def wait_tag(self, name: str, timeout: float = 600.0, poll: float = 0.2) -> dict[str, Any]:
        """The tag once it is no longer pending (``done`` or ``failed``); TimeoutError after
        ``timeout`` seconds."""
        deadline = _time.monotonic() + timeout
        while True:
            tag = self.get_tag(name)
            if tag["state"] != "pending":
                return tag
            if _time.monotonic() > deadline:
                raise TimeoutError(f"tag {name!r} still pending after {timeout:g} s")
            _time.sleep(poll)

    def download_tag(self, name: str, path: str | os.PathLike[str]) -> Path:
        """Saves the file of a done tag to ``path``; returns it."""
        target = Path(path)
        with self._pivot().stream("GET", f"/tags/{_segment(name)}/download") as response:
            if not response.is_success:
                response.read()
                raise error_of(response)
            with open(target, "wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return target

    def _pivot(self) -> httpx.Client:
        if self._pivot_http is None:
            self._pivot_http = http_client(self.pivot_url + API, self.token, self._timeout)
        return self._pivot_http

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        if self._pivot_http is not None:
            self._pivot_http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return call(self._http, method, path, **kwargs)

    def _register(self, fields: dict[str, Any], schema: SchemaSource) -> dict[str, Any]:
        return dict(self._send("POST", "/channels", fields, schema)["channel"])

    def _send(
        self,
        method: str,
        path: str,
        fields: dict[str, Any],
        schema: SchemaSource | None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """A registration or change: JSON, or multipart with the local schema file."""
        given = {k: v for k, v in fields.items() if v is not None}
        if not isinstance(schema, Path):
            body = given if schema is None else {**given, "schema": schema}
            return self._call(method, path, json=body, params=params)
        try:
            content = schema.read_bytes()
        except OSError as e:
            why = f"cannot read the schema file {schema}: {e.strerror}"
            raise Invalid(why, "schema_file") from None
        form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in given.items()}
        files = {"schema": (schema.name, content, "application/json")}
        return self._call(method, path, data=form, files=files, params=params)


def _listed(items: str | Sequence[str]) -> list[str]:
    """A list given as a sequence or comma-separated text."""
    parts = items.split(",") if isinstance(items, str) else list(items)
    return [p.strip() for p in parts if p.strip()]


def _segment(name: str) -> str:
    """A channel name as one path segment (a name with ``/`` or ``?`` cannot address another
    resource)."""
    return quote(name, safe="")
