"""Tags: a time range of channels kept beyond the archive's retention, as a file.

``POST /api/v1/tags {"name", "start", "end"|"duration", "channels", "signals"?, "note"?,
"format"?, "time"?}`` checks the request as an export's (the same 400/404/413 answers), writes
the tag's pin ``<data>/tags/<name>.json`` durably and answers 202; the range is then exported
in the background, one tag at a time, to ``<data>/tags/<name>.h5`` (see
:mod:`services.pivot.tagfiles`). ``GET /tags``, ``GET /tags/{name}`` (``pending``, ``done`` or
``failed`` with the reason; size, record counts and sha256 once done),
``GET /tags/{name}/download``, ``DELETE /tags/{name}`` (the bearer token, as the registry's
changes). A range that ends in the future is exported once it has ended (its pin keeps its
files meanwhile). Each change is a ``pivot.tag.<name>`` event. A pivot that starts exports the tags
still pending (a crash or kill during an export included) and removes the temporary files a
dead pivot left."""

from __future__ import annotations

import contextlib
import heapq
import json
import queue
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.pivot import tagfiles
from services.pivot.context import context
from services.pivot.plan import make_plan
from services.pivot.query import NAME, parse_query
from services.registry.auth import Guard, load_token
from speeddata._weberrors import ApiError
from speeddata.bus import Publisher
from speeddata.config import Settings
from speeddata.pins import DONE, FAILED, PENDING, tags_dir

BASE = "/api/v1/tags"
MAX_BODY = 64 * 1024
FIELDS = ("name", "start", "end", "duration", "channels", "signals", "note", "format", "time")
SETTLE_S = 1.0
"""A tag whose range ends in the future is exported this long after its end (the relays write
their blocks at least every ``relay.flush_ms``)."""
MEDIA = {"h5": "application/x-hdf5", "csv": "text/csv; charset=utf-8",
         "parquet": "application/vnd.apache.parquet", "zip": "application/zip"}  # fmt: skip


class Tags:
    """A pivot's tags: the export worker (one thread, one tag at a time), a lock that keeps a
    ``DELETE`` and a finishing export apart, and the ``pivot.tag.<name>`` events."""

    def __init__(self, settings: Settings, registry: Any) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.registry = registry
        self.lock = threading.Lock()
        self.guard = Guard(settings, load_token(settings))
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._publisher: Publisher | None = None
        self._pub_lock = threading.Lock()

    def start(self) -> None:
        """Removes dead pivots' temporary files, queues the pending tags, starts the worker."""
        for path in tagfiles.leftovers(self.data_dir):
            with contextlib.suppress(OSError):
                path.unlink()
        self._publisher = Publisher("pivot", "tags", self.settings)
        for name in tagfiles.names(self.data_dir):
            doc = tagfiles.read_doc(self.data_dir, name)
            if doc is not None and doc.get("state") == PENDING:
                self._queue.put(name)
        self._thread = threading.Thread(target=self._work, name="pivot-tags", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(5.0)
        with self._pub_lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None

    def submit(self, name: str) -> None:
        self._queue.put(name)

    def _work(self) -> None:
        later: list[tuple[float, str]] = []  # (when, name): tags whose range has not ended
        while True:
            wait = max(0.0, later[0][0] - time.time()) if later else None
            try:
                name = self._queue.get(timeout=wait)
            except queue.Empty:
                name = heapq.heappop(later)[1]
            if name is None:
                return
            due = self._export(name)
            if due is not None:
                heapq.heappush(later, (due, name))

    def _export(self, name: str) -> float | None:
        """Exports the tag; returns when to try again for a range that has not ended."""
        doc = tagfiles.read_doc(self.data_dir, name)
        if doc is None or doc.get("state") != PENDING:
            return None
        due = int(doc["end_ns"]) / 1e9 + SETTLE_S
        if due > time.time():
            return due
        try:
            done = tagfiles.export(doc, self.settings, self.registry)
        except Exception as e:  # noqa: BLE001 - the tag says why; the worker goes on
            done = {**doc, "state": FAILED, "reason": f"export failed: {e}"}
        with self.lock:
            now = tagfiles.read_doc(self.data_dir, name)
            if now is None or now.get("created_ns") != doc.get("created_ns"):
                tagfiles.remove_file(self.data_dir, name, done)  # deleted meanwhile
                return None
            tagfiles.save(self.data_dir, done)
        self.publish(done)
        return None

    def delete(self, name: str, doc: dict[str, Any]) -> None:
        """Removes the tag's file and pin (an export of it that finishes later is dropped)."""
        with self.lock:
            tagfiles.remove(self.data_dir, name, doc)

    def publish(self, doc: dict[str, Any], state: str | None = None) -> None:
        records = doc.get("records") or {}
        fields = {
            "name": doc["name"],
            "state": state or doc["state"],
            "reason": doc.get("reason") or "",
            "channels": list(doc["channels"]),
            "start_ns": int(doc["start_ns"]),
            "end_ns": int(doc["end_ns"]),
            "clock": doc["clock"],
            "format": doc["format"],
            "file": doc.get("file"),
            "size": doc.get("size"),
            "records": sum(records.values()) if records else None,
            "sha256": doc.get("sha256"),
        }
        with self._pub_lock:
            if self._publisher is not None:
                self._publisher.publish(f"pivot.tag.{doc['name']}", fields)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Starts the tags' worker with the app, stops it with the app."""
    tags: Tags = app.state.tags
    await run_in_threadpool(tags.start)
    try:
        yield
    finally:
        await run_in_threadpool(tags.stop)


def routes() -> list[BaseRoute]:
    return [
        Route(BASE, create, methods=["POST"]),
        Route(BASE, listing, methods=["GET"]),
        Route(BASE + "/{name}", show, methods=["GET"]),
        Route(BASE + "/{name}", delete, methods=["DELETE"]),
        Route(BASE + "/{name}/download", download, methods=["GET"]),
    ]


def _tags(request: Request) -> Tags:
    tags: Tags = request.app.state.tags
    return tags


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """A tag as the API shows it."""
    shown = {k: doc.get(k) for k in ("name", "state", "reason", "channels", "signals", "start",
                                     "end", "clock", "format", "note", "file", "size", "sha256",
                                     "records")}  # fmt: skip
    shown["created"] = _iso(doc.get("created_ns"))
    shown["finished"] = _iso(doc.get("finished_ns"))
    shown["download"] = f"{BASE}/{doc['name']}/download" if doc.get("state") == DONE else None
    return shown


def _iso(ns: Any) -> str | None:
    from speeddata.timespec import format_ns

    return format_ns(int(ns)) if isinstance(ns, int) else None


async def create(request: Request) -> Response:
    ctx, tags = context(request), _tags(request)
    body = await _body(request)
    name, note = _name(body), body.get("note", "")
    if not isinstance(note, str):
        raise ApiError(400, "malformed", "note must be a string")
    query = parse_query(QueryParams(_params(body)))
    await run_in_threadpool(make_plan, query, ctx.settings, ctx.registry)
    doc = tagfiles.new_doc(name, query, note)
    try:
        await run_in_threadpool(tagfiles.create_pin, tags.data_dir, doc)
    except tagfiles.TagTaken:
        raise ApiError(409, "name_taken", f"a tag named {name!r} exists", name=name) from None
    tags.publish(doc)
    tags.submit(name)
    return JSONResponse(view(doc), 202, headers={"Location": f"{BASE}/{name}"})


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the tag as JSON (application/json)")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ApiError(413, "too_large", f"a tag request is at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, "malformed", f"the body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed", "the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(
            400, "malformed", f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})"
        )
    return body


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if name is None:
        raise ApiError(400, "malformed", "name is required")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ApiError(422, "bad_name", f"bad tag name {name!r}: names are [a-z][a-z0-9_-]{{0,62}}")
    return name


def _params(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The body as an export's query parameters (lists may be JSON lists or comma text)."""
    out: list[tuple[str, str]] = []
    for key in ("start", "end", "duration", "format", "time", "channels", "signals"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, list) and key in ("channels", "signals"):
            if not all(isinstance(v, str) for v in value):
                raise ApiError(400, "malformed", f"{key} must be a list of strings")
            value = ",".join(value)
        if not isinstance(value, str):
            raise ApiError(400, "malformed", f"{key} must be a string")
        out.append((key, value))
    return out


def _found(request: Request) -> tuple[str, dict[str, Any]]:
    name = request.path_params["name"]
    doc = tagfiles.read_doc(_tags(request).data_dir, name) if NAME.fullmatch(name) else None
    if doc is None:
        raise ApiError(404, "unknown_tag", f"no tag named {name!r}", name=name)
    return name, doc


async def listing(request: Request) -> Response:
    data_dir = _tags(request).data_dir
    docs = [tagfiles.read_doc(data_dir, n) for n in tagfiles.names(data_dir)]
    return JSONResponse({"tags": [view(d) for d in docs if d is not None]})


async def show(request: Request) -> Response:
    return JSONResponse(view(_found(request)[1]))


async def download(request: Request) -> Response:
    name, doc = _found(request)
    if doc.get("state") != DONE:
        why = "is still being exported" if doc.get("state") == PENDING else "failed"
        raise ApiError(
            409, f"tag_{doc.get('state')}", f"tag {name!r} {why}", state=doc.get("state")
        )
    path = tags_dir(_tags(request).data_dir) / tagfiles.file_name(name, doc)
    if not path.is_file():
        raise ApiError(404, "tag_file_missing", f"the file of tag {name!r} is missing: {path}")
    ext = path.suffix.lstrip(".")
    return FileResponse(path, media_type=MEDIA.get(ext, "application/octet-stream"),
                        filename=path.name)  # fmt: skip


async def delete(request: Request) -> Response:
    tags = _tags(request)
    tags.guard.check(request)
    name, doc = _found(request)
    await run_in_threadpool(tags.delete, name, doc)
    tags.publish(doc, "deleted")
    return JSONResponse({**view(doc), "deleted": True})
