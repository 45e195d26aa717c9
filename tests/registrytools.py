"""Fixtures of the registry tests: its settings in a temp data dir, the app in-process
(Starlette TestClient) on SQLite or on a real PostgreSQL, and the real service as a process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bench.pgserver import PgServer, Unavailable
from services.registry import create_app
from speeddata.config import ROOT, Settings, load_settings
from tests.procs import Proc, start
from tests.system import free_tcp_port

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLE = "config/agents/example.avsc"
BACKENDS = ["sqlite", "postgresql"]


def registry_settings(data_dir: Path, database_url: str = "", **registry: Any) -> Settings:
    """Settings of an isolated registry: its own data dir, database and bus endpoints (no
    proxy behind them unless a test starts one)."""
    return load_settings(data_dir=data_dir, environ={}).override(
        bus={
            "xsub": f"tcp://127.0.0.1:{free_tcp_port()}",
            "xpub": f"tcp://127.0.0.1:{free_tcp_port()}",
            "linger_ms": 0,
        },
        registry={"database_url": database_url, "port": 0, **registry},
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        server = PgServer()
    except Unavailable as e:
        pytest.skip(f"no PostgreSQL: {e}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "" (SQLite under the data dir), then the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with server.database() as url:
        yield url


@pytest.fixture
def make_client(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Builds a TestClient of a registry app (lifespan run); closed at teardown."""
    monkeypatch.setenv("SPEEDDATA_TOKEN", TOKEN)
    clients: list[TestClient] = []

    def make(**registry: Any) -> TestClient:
        settings = registry_settings(tmp_path / "data", db_url, **registry)
        client = TestClient(create_app(settings), base_url="http://127.0.0.1:8080")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:  # type: ignore[no-untyped-def]
    return make_client()  # type: ignore[no-any-return]


def start_registry(settings_file: Path, env: dict[str, str]) -> Proc:
    """The real service (``python -m services.registry``) on a free port; waits until ready."""
    return start([sys.executable, "-m", "services.registry", "--config", str(settings_file),
                  "--port", "0"], env=env, cwd=ROOT)  # fmt: skip


def channel_body(name: str, port: int, schema: Any = EXAMPLE, **more: Any) -> dict[str, Any]:
    return {"name": name, "port": port, "schema": schema, **more}
