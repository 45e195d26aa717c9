"""The one error shape of the registry: ``{"error": code, "detail": text, ...extra}`` with the
status that fits, for every failure a request can meet (never an HTML page, never a 500 for
bad input)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("services.registry")

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
    503: "database_unavailable",
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


async def on_database_error(request: Request, exc: Exception) -> Response:
    """The database cannot answer now (PostgreSQL away, SQLite locked past its busy timeout):
    503, the client may try again."""
    log.warning("database error serving %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503, "database_unavailable", "the registry's database cannot answer now; try again"
    )


async def on_refused_value(request: Request, exc: Exception) -> Response:
    """A value the database cannot store that the checks let through: 422, never a 500."""
    log.warning("database refused a value in %s %s: %s", request.method, request.url.path, exc)
    return error_response(422, "invalid", "the database refused a value of this request")


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(500, "internal", f"internal error: {type(exc).__name__}")


HANDLERS = {
    ApiError: on_api_error,
    HTTPException: on_http_error,
    OperationalError: on_database_error,
    DataError: on_refused_value,
    Exception: on_unexpected,
}
