"""The dashboard's way to the pivot's tags: ``GET /api/v1/tags``, ``POST /api/v1/tags`` and
``GET /api/v1/tags/{name}`` of the gateway are passed to the pivot of the settings as they
are, and its answers back as they are. The dashboard's Content-Security-Policy lets its scripts
talk to this server only (and the pivot answers no cross-origin requests), so "tag this range"
goes through here. Deleting a tag needs the token: not through here (``sdctl tag rm``). A pivot
that does not answer is a 503 in the one error shape."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from speeddata.config import Settings

BASE = "/api/v1/tags"
TIMEOUT_S = 30.0
MAX_BODY = 64 * 1024


def pivot_root(settings: Settings) -> str:
    """The pivot's API root as this server reaches it."""
    host = settings.pivot.bind
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.pivot.port}{BASE}"


def routes(settings: Settings) -> list[BaseRoute]:
    root = pivot_root(settings)

    async def forward(request: Request) -> Response:
        name = request.path_params.get("name")
        url = root if name is None else f"{root}/{name}"
        body = await request.body() if request.method == "POST" else None
        if body is not None and len(body) > MAX_BODY:
            return _error(413, "too_large", f"a tag request is at most {MAX_BODY} bytes")
        headers = {"content-type": request.headers.get("content-type", "")} if body else {}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
                answer = await http.request(request.method, url, content=body, headers=headers)
        except httpx.HTTPError as e:
            why = str(e) or type(e).__name__
            return _error(503, "pivot_unreachable", f"the pivot at {root} does not answer: {why}")
        kept = {
            k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "location")
        }
        return Response(answer.content, answer.status_code, headers=kept)

    return [
        Route(BASE, forward, methods=["GET", "POST"]),
        Route(BASE + "/{name:str}", forward, methods=["GET"]),
    ]


def _error(status: int, code: str, detail: str) -> Response:
    return JSONResponse({"error": code, "detail": detail}, status)
