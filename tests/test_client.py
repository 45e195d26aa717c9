"""speeddata.Client and the original's SpeedDataClient against the real registry service
(``python -m services.registry`` on a free port, SQLite in a temp data dir): answers, typed
errors with the contract's codes, free-port picking, schema versions and the token lookup."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speeddata import (
    Client,
    ClientError,
    Conflict,
    Invalid,
    NotFound,
    SpeedDataClient,
    Unauthorized,
    Unreachable,
)
from speeddata.config import ROOT
from tests.clienttools import Registry, running_registry
from tests.system import free_tcp_port

EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Registry]:
    yield from running_registry(tmp_path_factory, relay_binary)


@pytest.fixture
def client(registry: Registry) -> Iterator[Client]:
    with Client(registry.url, registry.token) as c:
        yield c


def schema_file(tmp_path: Path, schema: dict, name: str = "s.avsc") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(schema))
    return path


def with_field(schema: dict, field: dict) -> dict:
    out = copy.deepcopy(schema)
    out["fields"].append(field)
    return out


def test_baseline_channels_listed(client: Client, registry: Registry) -> None:
    names = {c["name"] for c in client.channels()}
    assert {"example", "temperature"} <= names
    example = client.channel("example")
    assert example["port"] == registry.system.ports["example"]
    assert example["schema_version"] == 1 and len(example["fingerprint"]) == 16
    assert client.schema("example")["name"] == "data"
    assert client.health()["status"] == "ok"


def test_add_picks_a_free_port_and_uploads_a_local_file(client: Client, tmp_path: Path) -> None:
    free = client.ports_available()
    record = client.add_channel(
        "sensor1", schema_file(tmp_path, EXAMPLE), config={"decimation": 5}, time_field="time"
    )
    assert record["port"] == free[0]
    assert record["config"]["decimation"] == 5 and record["time_field"] == "time"
    assert record["status"] == "starting"
    assert client.port_status(record["port"]) == {
        "port": record["port"], "available": False, "status": "in_use", "channel": "sensor1"
    }  # fmt: skip
    assert record["port"] not in client.ports_available()
    client.remove_channel("sensor1")


def test_typed_errors_carry_the_code(client: Client, registry: Registry, tmp_path: Path) -> None:
    port = client.ports_available()[0]
    client.add_channel("dup", EXAMPLE, port=port)
    with pytest.raises(Conflict) as taken:
        client.add_channel("dup", EXAMPLE, port=port + 1)
    assert taken.value.code == "name_taken" and taken.value.status == 409
    with pytest.raises(Conflict) as used:
        client.add_channel("other", EXAMPLE, port=port)
    assert used.value.code == "port_taken" and used.value.extra["used_by"] == "dup"
    with pytest.raises(Invalid) as bad:
        client.add_channel("Bad Name", EXAMPLE, port=port + 2)
    assert bad.value.status == 422 and "name" in bad.value.detail
    with pytest.raises(Invalid) as outside:
        client.add_channel("outside", "config/../pyproject.toml", port=port + 2)
    assert outside.value.code == "bad_schema_path"
    with pytest.raises(Invalid) as not_json:
        client.add_channel("notjson", _text_file(tmp_path), port=port + 2)
    assert not_json.value.code == "invalid_schema"
    with pytest.raises(NotFound) as missing:
        client.channel("nothere")
    assert missing.value.code == "not_found"
    with Client(registry.url, token="wrong") as intruder:
        with pytest.raises(Unauthorized) as refused:
            intruder.remove_channel("dup")
        assert refused.value.code == "unauthorized"
        assert intruder.channel("dup")["name"] == "dup"  # reads are open
    assert all(issubclass(e, ClientError) for e in (Conflict, Invalid, NotFound, Unauthorized))
    client.remove_channel("dup")
    with pytest.raises(NotFound):
        client.remove_channel("dup")


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notjson.avsc"
    path.write_text("this is { not JSON")
    return path


def test_schema_versions(client: Client) -> None:
    client.add_channel("versioned", EXAMPLE, port=client.ports_available()[0])
    v2 = with_field(EXAMPLE, {"name": "extra", "type": "double", "default": 0.0})
    assert client.validate_schema("versioned", v2)["valid"] is True
    record = client.update_channel("versioned", schema=v2)
    assert record["schema_version"] == 2
    broken = with_field(v2, {"name": "needs_default", "type": "int"})
    verdict = client.validate_schema("versioned", broken)
    assert verdict["valid"] is False and verdict["error"] == "incompatible_schema"
    with pytest.raises(Conflict) as refused:
        client.update_channel("versioned", schema=broken)
    assert refused.value.code == "incompatible_schema" and "needs_default" in refused.value.detail
    assert client.update_channel("versioned", schema=broken, force=True)["schema_version"] == 3
    versions = client.schemas("versioned")
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["schema"] == v2
    assert client.update_channel("versioned", config={"decimation": 4})["config"] == {
        "decimation": 4
    }
    client.remove_channel("versioned")


def test_token_from_env_then_data_dir_file(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPEEDDATA_TOKEN", raising=False)
    settings = registry.settings
    with Client(settings=settings) as c:  # URL and token from the settings' data dir
        assert c.token == registry.token
        c.add_channel("by_file", EXAMPLE)
        c.remove_channel("by_file")
    monkeypatch.setenv("SPEEDDATA_TOKEN", "from-env")
    with Client(settings=settings) as c:
        assert c.token == "from-env"
        with pytest.raises(Unauthorized):
            c.add_channel("by_env", EXAMPLE)
    with Client(settings=settings, token=registry.token) as c:
        assert c.token == registry.token


def test_unreachable_registry_is_one_error() -> None:
    with (
        Client(f"http://127.0.0.1:{free_tcp_port()}", token="t") as c,
        pytest.raises(Unreachable) as gone,
    ):
        c.channels()
    assert gone.value.status is None and "cannot reach" in str(gone.value)


def test_speeddata_client_as_the_original(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls of the original README, unchanged; the token found in the data dir."""
    monkeypatch.delenv("SPEEDDATA_TOKEN", raising=False)
    monkeypatch.setenv("SPEEDDATA_CONFIG", str(registry.system.config))
    monkeypatch.setenv("SPEEDDATA_DATA_DIR", str(registry.system.data_dir))
    client = SpeedDataClient(base_url=f"{registry.url}/api/v1")
    port = Client(registry.url).ports_available()[0]
    done = client.register_channel(
        name="python_test",
        port=port,
        schema_path="config/agents/example.avsc",
        config={"decimation": 10, "rotation": 60, "algorithm": "average"},
    )
    assert done["status"] == "success" and done["name"] == "python_test" and done["port"] == port
    channels = client.list_channels()
    assert "python_test" in {ch["name"] for ch in channels}
    assert all({"name", "port", "status"} <= set(ch) for ch in channels)
    assert [c["name"] for c in client.list_channels(status="starting")].count("python_test") == 1
    assert client.list_channels(status="failed") == []
    info = client.get_channel("python_test")
    assert info is not None and info["schema_path"] == "config/agents/example.avsc"
    v2 = with_field(EXAMPLE, {"name": "extra", "type": "long", "default": 0})
    uploaded = client.upload_schema("python_test", schema_file(tmp_path, v2))
    assert uploaded["status"] == "success" and uploaded["channel"]["schema_version"] == 2
    with pytest.raises(Conflict):
        client.register_channel("python_test", port + 1, "config/agents/example.avsc")
    assert client.deregister_channel("python_test") is True
    assert client.deregister_channel("python_test") is False
    assert client.get_channel("python_test") is None


def test_concurrent_adds_without_a_port_get_distinct_ports(
    client: Client, registry: Registry
) -> None:
    """Racers that are offered the same free port: the losers (409 port_taken) ask again."""
    names = [f"racer{i}" for i in range(6)]

    def add(name: str) -> int:
        with Client(registry.url, registry.token) as c:
            return int(c.add_channel(name, EXAMPLE)["port"])

    with ThreadPoolExecutor(len(names)) as pool:
        ports = list(pool.map(add, names))
    assert len(set(ports)) == len(names)
    assert {c["name"]: c["port"] for c in client.channels() if c["name"] in names} == dict(
        zip(names, ports, strict=True)
    )
    for name in names:
        client.remove_channel(name)
