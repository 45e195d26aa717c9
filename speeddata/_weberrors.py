"""The one error shape of every SpeedData HTTP service: ``{"error": code, "detail": text,
...extra}`` with the status that fits, for every failure a request can meet (never an HTML
page, never a 500 for bad input). A service raises :class:`ApiError` and installs
:data:`HANDLERS` (plus its own, e.g. the registry's database errors)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("speeddata.web")

CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}
"""The code of an error of each status when nothing more precise is known."""


class ApiError(Exception):
    """A request that cannot be served; becomes :func:`error_response`."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON error of the contract."""
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.detail, headers, **exc.extra)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404:
        detail = f"no such resource: {request.url.path}"
    return error_response(exc.status_code, code, detail, dict(exc.headers or {}) or None)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(500, "internal", f"internal error: {type(exc).__name__}")


HANDLERS = {
    ApiError: on_api_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
"""The handlers every service installs (``Starlette(exception_handlers=...)``)."""
