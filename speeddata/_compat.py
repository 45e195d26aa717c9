"""``SpeedDataClient``: the original SpeedData's Python client (v0.6), same methods, same
return values, so notebooks and scripts written for it keep working::

    client = SpeedDataClient()                 # http://localhost:8080/api/v1
    client.register_channel("sensor1", 26100, "config/agents/example.avsc",
                            config={"decimation": 10})
    active = client.list_channels(status="active")

Its errors are :class:`speeddata.ClientError` subclasses. Changes need the registry's token:
``token=``, else ``SPEEDDATA_TOKEN``, else ``<data dir>/token`` of the configured data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from speeddata._http import (
    NotFound,
    call,
    configured_data_dir,
    find_token,
    http_client,
)

DEFAULT_URL = "http://localhost:8080/api/v1"


class SpeedDataClient:
    """The original client's interface over the registry's REST API at ``base_url``."""

    def __init__(
        self, base_url: str = DEFAULT_URL, token: str | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or find_token(None, None) or find_token(None, configured_data_dir())
        self._http = http_client(self.base_url, self.token, timeout)

    def list_channels(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every channel, or only those whose status is ``status`` (``active``, ...)."""
        params = {"status": status} if status else None
        return list(call(self._http, "GET", "/channels", params=params)["channels"])

    def register_channel(
        self,
        name: str,
        port: int,
        schema_path: str,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Registers a channel whose schema is the ``.avsc`` at ``schema_path`` of the
        registry's installation (``config/agents/example.avsc``); returns the answer
        (``{"status": "success", "name", "port", ...}``); raises on an HTTP error."""
        body: dict[str, Any] = {"name": name, "port": port, "schema": schema_path}
        if config is not None:
            body["config"] = config
        return dict(call(self._http, "POST", "/channels", json=body))

    def deregister_channel(self, name: str) -> bool:
        """Removes the channel and stops its relay; False when there was no such channel."""
        try:
            call(self._http, "DELETE", f"/channels/{quote(name, safe='')}")
        except NotFound:
            return False
        return True

    def get_channel(self, name: str) -> dict[str, Any] | None:
        """The channel's record, or None when there is no such channel."""
        try:
            return dict(call(self._http, "GET", f"/channels/{quote(name, safe='')}"))
        except NotFound:
            return None

    def upload_schema(self, name: str, schema_file: str | Path) -> dict[str, Any]:
        """Uploads the local ``.avsc`` file ``schema_file`` as channel ``name``'s new schema
        (its next version; it must be able to read the data of the current one) and returns
        the answer (``{"status": "success", ..., "channel": {...}}``)."""
        path = Path(schema_file)
        files = {"schema": (path.name, path.read_bytes(), "application/json")}
        return dict(call(self._http, "PATCH", f"/channels/{quote(name, safe='')}", files=files))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SpeedDataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
