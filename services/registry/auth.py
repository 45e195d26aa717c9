"""Who may change the registry: the bearer token (``Authorization: Bearer``, compared in
constant time) or the page's login cookie with a matching ``Origin``; reads are open.

The token is ``SPEEDDATA_TOKEN``, else the file ``<data dir>/token`` (made, mode 600, on first
use). The page follows Datasette's ``--root`` pattern: :func:`login_link` makes a one-time
link; opening it sets a signed, HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from services.registry.errors import ApiError
from speeddata.config import Settings

TOKEN_ENV = "SPEEDDATA_TOKEN"
COOKIE = "speeddata_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_file(settings: Settings) -> Path:
    return settings.data_dir / "token"


def load_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The write token: ``SPEEDDATA_TOKEN``, else ``<data dir>/token``, created (mode 600)
    with a new random token when there is none."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV]
    path = token_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="utf-8").strip()


def _signer(token: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(token, salt=f"speeddata-registry-{purpose}")


def base_url(settings: Settings, port: int | None = None) -> str:
    host = settings.registry.bind
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{host}:{port or settings.registry.port}"


def login_link(settings: Settings, port: int | None = None, token: str | None = None) -> str:
    """A one-time login link to the registry's page (``sdctl up`` prints it): good once, for
    ``registry.login_ttl_s`` seconds."""
    secret = _signer(token or load_token(settings), "login").dumps(secrets.token_hex(16))
    return f"{base_url(settings, port)}/login?token={secret}"


def login_nonce(token: str, secret: str, max_age: int) -> str | None:
    """The nonce of a login secret made by :func:`login_link`, or None when it is forged or
    too old."""
    try:
        nonce = _signer(token, "login").loads(secret, max_age=max_age)
    except BadSignature:
        return None
    return nonce if isinstance(nonce, str) else None


def session_cookie(token: str) -> str:
    return _signer(token, "session").dumps("page")


class Guard:
    """Checks a mutating request; :class:`ApiError` 401 or 403 when it may not."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.open = settings.registry.auth == "none"
        self.token = token
        self.session_ttl = settings.registry.session_ttl_s

    def check(self, request: Request) -> None:
        if self.open or request.method in SAFE_METHODS:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and given:
            if hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return
            raise ApiError(401, "unauthorized", "the bearer token is not the registry's")
        cookie = request.cookies.get(COOKIE)
        if cookie and self._valid_cookie(cookie):
            if not _same_origin(request):
                raise ApiError(403, "bad_origin", "the request's Origin is not this registry")
            return
        raise ApiError(
            401,
            "unauthorized",
            "changes need the token: Authorization: Bearer <token> (SPEEDDATA_TOKEN or "
            "<data dir>/token), or the page's login link",
        )

    def signed_in(self, request: Request) -> bool:
        """This browser may change the registry: it holds a valid login cookie (or auth is off)."""
        cookie = request.cookies.get(COOKIE)
        return self.open or bool(cookie and self._valid_cookie(cookie))

    def _valid_cookie(self, cookie: str) -> bool:
        try:
            _signer(self.token, "session").loads(cookie, max_age=self.session_ttl)
        except BadSignature:
            return False
        return True


def _same_origin(request: Request) -> bool:
    """The browser's ``Origin`` names this server, as the request's ``Host`` does."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()
