"""``GET /api/v1/pivot/export``: a time range of channels as one HDF5 file, or CSV / Parquet
tables (one per channel, zipped when there are several), streamed.

The blocking work (the registry, the archive, decoding, writing) runs in worker threads. An
HDF5 file is built in an unlinked temporary file (nothing to clean up, whatever happens to the
request or the process) and then streamed with its length; CSV and Parquet are written and
sent piece by piece. Headers say how many records each channel has: ``X-SpeedData-Records``
(all) and ``X-SpeedData-Channel-Records`` (``name=count,...``); a range without data is a 200
with empty tables."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from services.pivot.context import PivotContext, context
from services.pivot.plan import make_plan, read
from services.pivot.query import ExportQuery, parse_query
from services.pivot.tables import WRITERS, zip_pieces
from speeddata.columnar import ChannelColumns
from speeddata.hdf5 import write_hdf5
from speeddata.timespec import format_ns

BASE = "/api/v1"
HDF5_PIECE = 1 << 20
MEDIA = {
    "hdf5": "application/x-hdf5",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "zip": "application/zip",
}


def routes() -> list[BaseRoute]:
    return [Route(BASE + "/pivot/export", export, methods=["GET"])]


async def export(request: Request) -> Response:
    ctx = context(request)
    query = parse_query(request.query_params)
    plan = await run_in_threadpool(make_plan, query, ctx.settings, ctx.registry)
    columns = await run_in_threadpool(read, plan, ctx.settings)
    headers = _headers(query, columns)
    ctx.metrics.exported(query.format, sum(c.rows for c in columns))
    if query.format == "hdf5":
        file, size = await run_in_threadpool(_hdf5_file, query, columns, ctx)
        headers["Content-Length"] = str(size)
        headers["Content-Disposition"] = _attachment(_stem(query) + ".h5")
        body = _file_pieces(file, ctx)
        return StreamingResponse(_async(body), media_type=MEDIA["hdf5"], headers=headers)
    write, ext, method = WRITERS[query.format]
    if len(columns) == 1:
        body = _counted(write(columns[0]), ctx)
        headers["Content-Disposition"] = _attachment(f"{_stem(query, columns[0].channel)}.{ext}")
        return StreamingResponse(_async(body), media_type=MEDIA[query.format], headers=headers)
    entries = ((f"{c.channel}.{ext}", write(c)) for c in columns)
    body = _counted(zip_pieces(entries, method), ctx)
    headers["Content-Disposition"] = _attachment(_stem(query) + ".zip")
    return StreamingResponse(_async(body), media_type=MEDIA["zip"], headers=headers)


def _hdf5_file(
    query: ExportQuery, columns: list[ChannelColumns], ctx: PivotContext
) -> tuple[IO[bytes], int]:
    """The HDF5 file of ``columns`` in an unlinked temporary file, rewound, and its size."""
    settings = ctx.settings.pivot
    file = tempfile.TemporaryFile(dir=settings.temp_dir or None)  # noqa: SIM115 (streamed)
    try:
        write_hdf5(
            columns,
            file,
            compression=settings.compression,
            start_ns=query.start_ns,
            end_ns=query.end_ns,
            clock=query.clock,
        )
        size = file.seek(0, 2)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, size


def _file_pieces(file: IO[bytes], ctx: PivotContext) -> Iterator[bytes]:
    with file:
        while piece := file.read(HDF5_PIECE):
            ctx.metrics.sent(len(piece))
            yield piece


def _counted(pieces: Iterator[bytes], ctx: PivotContext) -> Iterator[bytes]:
    try:
        for piece in pieces:
            if piece:
                ctx.metrics.sent(len(piece))
                yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


async def _async(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The pieces, each made in a worker thread; the generator is closed however the response
    ends (a client that goes away mid-download included), so its files close."""
    try:
        while True:
            piece = await run_in_threadpool(next, pieces, None)
            if piece is None:
                return
            yield piece
    finally:
        pieces_close = getattr(pieces, "close", None)
        if pieces_close is not None:
            pieces_close()


def _headers(query: ExportQuery, columns: list[ChannelColumns]) -> dict[str, str]:
    return {
        "X-SpeedData-Records": str(sum(c.rows for c in columns)),
        "X-SpeedData-Channel-Records": ",".join(f"{c.channel}={c.rows}" for c in columns),
        "X-SpeedData-Start": format_ns(query.start_ns),
        "X-SpeedData-End": format_ns(query.end_ns),
        "X-SpeedData-Clock": query.clock,
        "Cache-Control": "no-store",
    }


def _stem(query: ExportQuery, name: str = "speeddata") -> str:
    """``<name>-<start>-<end>`` in compact UTC (``20261201T120000.000000000Z``)."""
    start, end = (
        format_ns(t).replace("-", "").replace(":", "") for t in (query.start_ns, query.end_ns)
    )
    return f"{name}-{start}-{end}"


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'
