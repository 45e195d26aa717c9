"""A whole SpeedData for the pivot's end-to-end tests (bus, registry, ingest, pivot and the
relays ingest runs, all real, on free ports), a channel with every field type of the
contract's table, and what its records should look like once exported."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speeddata import Client, Sender
from speeddata.archive import archive_files, read_records
from speeddata.config import Settings, load_settings
from tests.procs import Proc, wait_until
from tests.system import System, make_system

EVERY = {
    "type": "record",
    "name": "every",
    "namespace": "test.pivot",
    "doc": "one field of each type of the contract's HDF5 type table",
    "fields": [
        {"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"},
         "doc": "device time"},
        {"name": "i", "type": "int", "units": "counts"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double", "units": "V", "doc": "a voltage"},
        {"name": "b", "type": "boolean"},
        {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "color",
                               "symbols": ["red", "green", "blue"]}},
        {"name": "by", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "four", "size": 4}},
        {"name": "n", "type": ["null", "double"], "default": None},
        {"name": "r", "type": {"type": "record", "name": "inner", "fields": [
            {"name": "x", "type": "int"}, {"name": "y", "type": "string"}]}},
        {"name": "a", "type": {"type": "array", "items": "double"}},
        {"name": "m", "type": {"type": "map", "values": "long"}},
    ],
}  # fmt: skip
T0_US = 1_780_000_000_000_000
"""Device time of the first ``every`` record (2026-05-28), microseconds."""
STEP_US = 1_000


def every_record(i: int) -> dict[str, Any]:
    return {
        "t": T0_US + i * STEP_US,
        "i": i - 50,
        "l": (i * 7_919_000_003) - 2**40,
        "f": float(np.float32(i / 8)),
        "d": i * 0.1 - 3.3,
        "b": i % 3 == 0,
        "s": f"ünï-{i}" * (i % 4),
        "e": ["red", "green", "blue"][i % 3],
        "by": bytes([i % 256, 0, 255])[: i % 4],
        "fx": i.to_bytes(4, "big"),
        "n": None if i % 5 == 0 else i * 0.5,
        "r": {"x": i * 2, "y": f"r{i}"},
        "a": [float(k) for k in range(i % 4)],
        "m": {f"k{k}": i + k for k in range(i % 3)},
    }


@dataclass
class Live:
    system: System
    settings: Settings
    procs: list[Proc]
    pivot: str
    """The pivot's root URL."""
    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def client(self) -> Client:
        return Client(settings=self.settings, pivot_url=self.pivot)

    def archived(self, channel: str) -> list[dict[str, Any]]:
        return [r for p in archive_files(self.system.data_dir, channel) for r in read_records(p)]

    def send(
        self, channel: str, schema: Any, records: list[dict[str, Any]], batch: int = 10
    ) -> None:
        """Sends ``records`` (``batch`` a datagram) to the channel's relay and waits until the
        archive holds all of them."""
        port = self.client().channel(channel)["port"]
        before = len(self.archived(channel))
        with Sender(schema, "127.0.0.1", port) as sender:
            for k in range(0, len(records), batch):
                sender.send_many(records[k : k + batch])
                time.sleep(0.002)
        want = before + len(records)
        wait_until(lambda: len(self.archived(channel)) >= want, what=f"{channel} archived")
        self.sent.setdefault(channel, []).extend(records)


def start_live(tmp: Path, relay_binary: Path) -> Generator[Live, None, None]:
    """The whole system until the generator is closed; the pivot builds its HDF5 files in
    ``<tmp>/tmp`` (TMPDIR), which tests look at."""
    system = make_system(
        tmp, relay_binary, relay={"rotate_bytes": 4096}, ingest={"registry_poll_s": 1.0}
    )
    scratch = tmp / "tmp"
    scratch.mkdir()
    system.env["TMPDIR"] = str(scratch)
    procs: list[Proc] = []
    try:
        for service in ("bus", "registry", "ingest", "pivot"):
            procs.append(system.start("-m", f"services.{service}"))
        settings = load_settings(system.config, system.data_dir)
        yield Live(system, settings, procs, f"http://{procs[-1].ready['http']}")
    finally:
        for proc in reversed(procs):
            proc.stop()


def wait_relay(live: Live, channel: str) -> None:
    """Waits until the channel's relay runs (its status in the registry)."""
    wait_until(
        lambda: live.client().channel(channel)["status"] == "active",
        timeout=20,
        what=f"{channel}'s relay",
    )
