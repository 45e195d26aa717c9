"""An isolated SpeedData installation for integration tests: free bus ports, the demo channels on
free UDP ports, random loopback multicast groups, a temp data dir, and its environment."""

from __future__ import annotations

import os
import random
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from speeddata.archive import archive_files, read_records
from speeddata.config import ROOT
from tests.procs import Proc, start

PY = sys.executable


@dataclass
class System:
    env: dict[str, str]
    data_dir: Path
    config: Path
    xsub: str
    xpub: str
    ports: dict[str, int]

    def start(self, *argv: str, wait_ready: bool = True) -> Proc:
        """Starts ``python <argv>`` in this installation's environment."""
        return start([PY, *argv], env=self.env, cwd=ROOT, wait_ready=wait_ready)

    def up(self, *args: str, timeout: float = 60.0) -> Proc:
        """Starts ``sdctl up`` and waits for its readiness line: it starts five services one
        after the other, slow on a loaded machine."""
        proc = self.start("-m", "speeddata", "up", *args, wait_ready=False)
        try:
            proc.wait_ready(timeout)
        except BaseException:
            proc.stop()
            raise
        return proc

    def archived(self, channel: str) -> list[dict]:
        """Every record archived for ``channel`` so far, in file order."""
        out: list[dict] = []
        for path in archive_files(self.data_dir, channel):
            out += read_records(path)
        return out


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_channel_ports(count: int) -> list[int]:
    """UDP ports in the channel range that nothing uses now (nor their multicast ports)."""
    found: list[int] = []
    while len(found) < count:
        port = random.randrange(26000, 26990)
        if port in found:
            continue
        try:
            for p in (port, port + 10000, port + 11000):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        found.append(port)
    return found


def make_system(tmp_path: Path, relay_binary: Path, **settings: dict) -> System:
    """Writes a config with the demo channels on free ports; returns its environment."""
    defaults = yaml.safe_load((ROOT / "config" / "speeddata.yaml").read_text())
    channels = [dict(c) for c in defaults["channels"]]
    for channel, port in zip(channels, free_channel_ports(len(channels)), strict=True):
        channel["port"] = port
    x, y = random.randrange(1, 255), random.randrange(1, 254)
    values: dict[str, Any] = {
        "bus": {"xsub": f"tcp://127.0.0.1:{free_tcp_port()}",
                "xpub": f"tcp://127.0.0.1:{free_tcp_port()}"},
        "relay": {"binary": str(relay_binary), "flush_ms": 20},
        "multicast": {"full_group": f"239.255.{x}.{y}", "dec_group": f"239.255.{x}.{y + 1}"},
        "registry": {"port": free_tcp_port()},
        "pivot": {"port": free_tcp_port()},
        "stripchart": {"port": free_tcp_port()},
        "channels": channels,
    }  # fmt: skip
    for section, changes in settings.items():
        values.setdefault(section, {}).update(changes)
    config = tmp_path / "speeddata.yaml"
    config.write_text(yaml.safe_dump(values))
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    env.update(SPEEDDATA_CONFIG=str(config), SPEEDDATA_DATA_DIR=str(data_dir))
    return System(
        env=env,
        data_dir=data_dir,
        config=config,
        xsub=values["bus"]["xsub"],
        xpub=values["bus"]["xpub"],
        ports={c["name"]: c["port"] for c in channels},
    )


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def relay_pids(data_dir: Path, channel: str) -> list[int]:
    """Live relay processes of ``channel`` for ``data_dir`` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv[0].endswith(b"zmq_relay")
            and _flag(argv, b"--data-dir") == str(data_dir).encode()
            and _flag(argv, b"--name") == channel.encode()
            and alive(int(entry.name))
        ):
            pids.append(int(entry.name))
    return pids


def _flag(argv: list[bytes], flag: bytes) -> bytes | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None
