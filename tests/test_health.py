"""``sdctl health SERVICE`` and ``python -m speeddata.health SERVICE`` (what each container's
healthcheck runs): 0 while the real service runs, 1 with one line saying why once it is stopped
(or before it started)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from speeddata.config import ROOT
from tests.system import PY, System, make_system

SERVICES = ("bus", "registry", "ingest", "janitor")


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary)


def health(system: System, service: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "speeddata", "health", service, "--timeout", "2"],
        env=system.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_health_follows_each_service(system: System, procs: list) -> None:
    for service in SERVICES:
        before = health(system, service)
        assert before.returncode == 1, before
        assert before.stderr.startswith(f"sdctl: error: {service} is not ready: "), before.stderr
        assert len(before.stderr.splitlines()) == 1
    for service in SERVICES:
        procs.append(system.start("-m", f"services.{service}"))
    for service in SERVICES:
        done = health(system, service)
        assert (done.returncode, done.stdout) == (0, f"{service} ok\n"), done.stderr
        light = subprocess.run([PY, "-m", "speeddata.health", service, "2"], env=system.env,
                               cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert (light.returncode, light.stdout) == (0, f"{service} ok\n"), light.stderr
    for proc, service in zip(reversed(procs), reversed(SERVICES), strict=True):
        proc.stop()
        after = health(system, service)
        assert after.returncode == 1, (service, after)


def test_unknown_service() -> None:
    done = subprocess.run([PY, "-m", "speeddata", "health", "nope"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("sdctl: error: unknown service 'nope' (services: bus,")
