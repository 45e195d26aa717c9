"""Which browser pages may open the gateway's WebSocket: the ``Origin`` check of proto/WS.md.

Accepted: no ``Origin`` (not a browser), the gateway's own origin (the request's ``Host``), the
registry page's origin, and ``stripchart.allowed_origins`` (``"*"``: any). ``localhost`` and
``127.0.0.1`` are one host."""

from __future__ import annotations

from urllib.parse import urlsplit

from speeddata.config import Settings, SettingsError

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def normalized(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, default ports filled in and ``localhost``
    spelled ``127.0.0.1``; None when it is not an http(s) origin."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = "127.0.0.1" if parts.hostname in LOOPBACK_NAMES else parts.hostname
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


class OriginCheck:
    """The allowed origins of one gateway, made once from its settings."""

    def __init__(self, settings: Settings) -> None:
        given = settings.stripchart.allowed_origins
        listed = [o for o in given if o != "*"]
        origins = [normalized(o) if isinstance(o, str) else None for o in listed]
        if None in origins:
            raise SettingsError(
                f"stripchart.allowed_origins: {listed[origins.index(None)]!r} is not an origin"
                ' such as http://host:port (or "*" for any)'
            )
        self.any = "*" in given
        self.allowed = {o for o in origins if o is not None}
        reg = settings.registry
        self.registry_port = reg.port
        self.registry_host = None if reg.bind in WILDCARD_BINDS else reg.bind

    def allows(self, origin: str | None, host_header: str | None) -> bool:
        """True when a WebSocket request with this ``Origin`` and ``Host`` may connect."""
        if origin is None or self.any:
            return True
        seen = normalized(origin)
        if seen is None:
            return False
        if seen in self.allowed:
            return True
        own = normalized(f"{seen[0]}://{host_header}") if host_header else None
        if own is not None and seen == own:
            return True
        return self._is_registry(seen, own)

    def _is_registry(self, seen: tuple[str, str, int], own: tuple[str, str, int] | None) -> bool:
        if seen[0] != "http" or seen[2] != self.registry_port:
            return False
        if self.registry_host is None:  # the registry listens everywhere: our host, its port
            return own is not None and seen[1] == own[1]
        return normalized(f"http://{self.registry_host}") == ("http", seen[1], 80)
