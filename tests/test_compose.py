"""``docker-compose up`` for real: the project's image built from the Dockerfile on a Debian
base made here (no image registry is reachable), Python packages from the wheelhouse, the
project's compose.yaml with a config of free ports, demo records sent from the host. Every
service turns healthy, records land on the data volume, a channel registered over REST starts
capturing, the registry's /metrics counts it, an export from the pivot holds exactly what the
volume holds, and ``docker-compose down`` leaves nothing.

Skipped with its one-line reason when Docker cannot run here (no dockerd, not root)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from speeddata import Client, Sender
from speeddata.archive import archive_files, read_records
from speeddata.config import ROOT
from speeddata.demo import demo_records
from tests.containers import Docker, Unavailable, base_image, build_image, docker_daemon, wheelhouse
from tests.metricstools import value
from tests.procs import wait_until
from tests.system import PY, free_channel_ports, make_system

SERVICES = ("bus", "registry", "ingest", "janitor", "pivot", "stripchart")
EXAMPLE = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())


@pytest.fixture(scope="module")
def docker() -> Iterator[Docker]:
    try:
        with docker_daemon() as d:
            yield d
    except Unavailable as e:
        pytest.skip(f"Docker cannot run here: {e}")


@pytest.fixture(scope="module")
def image(docker: Docker) -> Iterator[str]:
    base = base_image(docker)
    wheelhouse()
    tag = f"speeddata-test:{uuid.uuid4().hex[:8]}"
    build_image(docker, base, tag)
    yield tag
    docker.run("rmi", "-f", tag)


class Compose:
    """docker-compose with the project's compose.yaml, as project ``name``."""

    def __init__(self, docker: Docker, name: str, env: dict[str, str]) -> None:
        self.docker = docker
        self.name = name
        self.env = {**docker.env, **env, "COMPOSE_PROJECT_NAME": name}

    def __call__(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            ["docker-compose", "-f", str(ROOT / "compose.yaml"), *args], env=self.env,
            capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def health(self) -> dict[str, str]:
        """Service -> health status of its container."""
        out = {}
        for cid in self("ps", "-q").split():
            state = json.loads(self.docker.run("inspect", "--format", "{{json .}}", cid))
            service = state["Config"]["Labels"]["com.docker.compose.service"]
            out[service] = (state["State"].get("Health") or {}).get("Status", "none")
        return out

    def project_containers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.name}"
        return self.docker.run("ps", "-aq", "--filter", label).split()


def _config_dir(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A config of free ports and random loopback groups (the tests' usual), readable by the
    image's user; the relay binary stays the image's."""
    (tmp_path / "host").mkdir()
    system = make_system(tmp_path / "host", Path("unused"))
    values = yaml.safe_load(system.config.read_text())
    del values["relay"]["binary"]
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "speeddata.yaml").write_text(yaml.safe_dump(values))
    for path in (tmp_path, folder, folder / "speeddata.yaml"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder, values


@pytest.mark.timeout(1500)
def test_compose_up_captures_and_down_leaves_nothing(
    docker: Docker, image: str, tmp_path: Path
) -> None:
    folder, values = _config_dir(tmp_path)
    compose = Compose(docker, f"sdtest{uuid.uuid4().hex[:8]}",
                      {"SPEEDDATA_IMAGE": image, "SPEEDDATA_CONFIG_DIR": str(folder)})  # fmt: skip
    compose("config", "-q")
    compose("up", "-d", "--no-build")
    try:
        seen: list[dict[str, str]] = [{}]

        def all_healthy() -> bool:
            seen[0] = compose.health()
            return set(seen[0]) == set(SERVICES) and set(seen[0].values()) == {"healthy"}

        try:
            wait_until(all_healthy, timeout=300, interval=2, what="every service healthy")
        except AssertionError as e:
            raise AssertionError(f"{e}: {seen[0]}") from None
        volume = Path(docker.run("volume", "inspect", "--format", "{{.Mountpoint}}",
                                 f"{compose.name}_data").strip())  # fmt: skip
        _check_capture(values, volume, tmp_path)
    except BaseException:
        print(compose("logs", "--no-color", "--tail", "40"))
        raise
    finally:
        compose("down", "-v", "--timeout", "20")
    assert compose.project_containers() == []
    names = docker.run("volume", "ls", "-q").split()
    assert f"{compose.name}_data" not in names


def _check_capture(values: dict[str, Any], volume: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    env.update(SPEEDDATA_CONFIG=str(tmp_path / "etc" / "speeddata.yaml"),
               SPEEDDATA_DATA_DIR=str(tmp_path / "host-data"))  # fmt: skip
    sent = subprocess.run(
        [PY, "-m", "speeddata", "send", "demo", "--channel", "example", "--count", "100",
         "--rate", "200"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    archived = wait_until(lambda: len(_archived(volume, "example")) >= 100, timeout=30,
                          what="the demo records on the volume")  # fmt: skip
    assert archived
    registry = f"http://127.0.0.1:{values['registry']['port']}"
    token = (volume / "token").read_text().strip()
    port = free_channel_ports(1)[0]
    with Client(registry, token) as client:
        record = client.add_channel("probe", EXAMPLE, port=port, time_field="time")
        assert record["port"] == port
        records = list(itertools.islice(demo_records("example", seed=5), 20))
        with Sender(EXAMPLE, "127.0.0.1", port) as sender:

            def captured() -> bool:
                sender.send_many(records)  # again while the new relay starts
                return len(_archived(volume, "probe")) >= len(records)

            wait_until(captured, timeout=60, interval=1, what="the new channel capturing")
        wait_until(lambda: client.channel("probe")["status"] == "active", timeout=30,
                   what="probe active")  # fmt: skip
    metrics = httpx.get(f"{registry}/metrics", timeout=10).text
    assert (value(metrics, "speeddata_relay_archived_total", channel="probe") or 0) > 0
    pivot = f"http://127.0.0.1:{values['pivot']['port']}"
    with Client(registry, token, pivot_url=pivot) as client:
        exported = client.export("now-10min", ["example", "probe"], end="now")
    gateway = f"http://127.0.0.1:{values['stripchart']['port']}"
    for page in ("/", "/static/uplot/uPlot.iife.min.js"):
        assert httpx.get(gateway + page, timeout=10).status_code == 200, page
    on_disk = {c: _archived(volume, c) for c in ("example", "probe")}
    for channel, records in on_disk.items():
        got = exported.channel[channel]
        assert sorted(got.rx_time.tolist()) == sorted(r["rx_time"] for r in records), channel
        assert sorted(got.signal["counter"].tolist()) == sorted(r["counter"] for r in records)


def _archived(volume: Path, channel: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in archive_files(volume, channel):
        out += read_records(path)
    return out
