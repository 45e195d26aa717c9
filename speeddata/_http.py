"""What the HTTP clients share: the typed errors built from the contract's JSON error shape
``{"error": code, "detail": text, ...extra}``, the write token's lookup and one request helper."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

TOKEN_ENV = "SPEEDDATA_TOKEN"


class ClientError(Exception):
    """A call that did not succeed. :attr:`status` is the HTTP status (None when there was no
    answer), :attr:`code` the contract's error code (``not_found``, ``port_taken``, ...),
    :attr:`detail` its sentence and :attr:`extra` the rest of the error body (``used_by``,
    ``field``, ...)."""

    status: int | None = None

    def __init__(
        self,
        detail: str,
        code: str = "error",
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.detail


class Malformed(ClientError):
    """400: the server could not read the request."""

    status = 400


class Unauthorized(ClientError):
    """401: a change without the registry's token (or with a wrong one)."""

    status = 401


class Forbidden(ClientError):
    """403: refused (e.g. a cookie whose Origin is not the server's)."""

    status = 403


class NotFound(ClientError):
    """404: no such channel (or resource)."""

    status = 404


class Conflict(ClientError):
    """409: a name or port taken, or a schema that cannot read the channel's old data."""

    status = 409


class TooLarge(ClientError):
    """413: the request body is over the server's limit."""

    status = 413


class UnsupportedMediaType(ClientError):
    """415: a content type the server does not take."""

    status = 415


class Invalid(ClientError):
    """422: well-formed but invalid (a bad name, a port outside the range, a bad schema)."""

    status = 422


class ServerError(ClientError):
    """5xx, or an answer that is not the contract's."""


class Unreachable(ClientError):
    """No answer at all: nothing listens at the URL, or it timed out."""


BY_STATUS: dict[int, type[ClientError]] = {
    cls.status: cls  # type: ignore[misc]
    for cls in (Malformed, Unauthorized, Forbidden, NotFound, Conflict, TooLarge,
                UnsupportedMediaType, Invalid)
}  # fmt: skip


def error_of(response: httpx.Response) -> ClientError:
    """The typed error of a non-2xx answer (its JSON error body, else its first text line)."""
    status = response.status_code
    cls = BY_STATUS.get(status, ServerError)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        code = str(body.get("error") or "error")
        extra = {k: v for k, v in body.items() if k not in ("error", "detail")}
        return cls(body["detail"], code, status, extra)
    text = " ".join(response.text.split())[:200] or response.reason_phrase
    return cls(f"HTTP {status} from {response.request.url}: {text}", f"http_{status}", status)


def find_token(token: str | None, data_dir: Path | None) -> str | None:
    """The write token: ``token``, else ``SPEEDDATA_TOKEN``, else the file ``<data dir>/token``
    (never created here), else None."""
    if token:
        return token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if data_dir is None:
        return None
    try:
        text = (data_dir / "token").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def configured_data_dir() -> Path | None:
    """The configured data dir, or None when the settings cannot be read."""
    from speeddata.config import SettingsError, load_settings

    try:
        return load_settings().data_dir
    except SettingsError:
        return None


def http_client(base_url: str, token: str | None, timeout: float) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the decoded JSON answer, or the typed :class:`ClientError`."""
    try:
        response = http.request(method, path, **kwargs)
    except httpx.TimeoutException:
        where = str(http.base_url).rstrip("/")
        raise Unreachable(f"{where}{path}: no answer in time", "timeout") from None
    except httpx.TransportError as e:
        why = str(e) or type(e).__name__
        where = str(http.base_url).rstrip("/")
        raise Unreachable(f"cannot reach {where}: {why}", "unreachable") from None
    if response.is_success:
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"{method} {path}: the answer is not JSON", "not_json", response.status_code
            ) from None
    raise error_of(response)
