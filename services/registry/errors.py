"""The registry's errors: the one error shape of every service (:mod:`speeddata._weberrors`),
and what its database may refuse."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, OperationalError
from starlette.requests import Request
from starlette.responses import Response

from speeddata._weberrors import HANDLERS as COMMON
from speeddata._weberrors import ApiError, error_response

log = logging.getLogger("services.registry")


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


HANDLERS = {**COMMON, OperationalError: on_database_error, DataError: on_refused_value}

__all__ = ["HANDLERS", "ApiError", "error_response"]
