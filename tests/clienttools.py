"""A real registry service for the client and CLI tests: ``python -m services.registry`` on a
free port in its own installation (temp data dir, SQLite, the demo channels as its seed). Its
token is the file it made in its data dir (the environment has no SPEEDDATA_TOKEN)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from speeddata.config import Settings, load_settings
from tests.procs import Proc
from tests.system import System, make_system


@dataclass
class Registry:
    system: System
    proc: Proc
    url: str
    token: str

    @property
    def settings(self) -> Settings:
        """The installation's settings, with the port the registry bound."""
        port = int(self.url.rsplit(":", 1)[1])
        settings = load_settings(config_file=self.system.config, data_dir=self.system.data_dir)
        return settings.override(registry={"port": port})


def running_registry(
    tmp_path_factory: pytest.TempPathFactory, relay_binary: Path
) -> Iterator[Registry]:
    """A real registry until the generator is closed (a test module's fixture yields from it)."""
    system = make_system(tmp_path_factory.mktemp("registry"), relay_binary, registry={"port": 0})
    proc = system.start("-m", "services.registry")
    try:
        token = (system.data_dir / "token").read_text().strip()
        yield Registry(system, proc, f"http://{proc.ready['http']}", token)
    finally:
        proc.stop()
