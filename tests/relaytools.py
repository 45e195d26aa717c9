"""Helpers for tests that run the real relay: a probe schema using every kind of field, record
encoders that share no code with the relay (fastavro, Apache avro), starting a relay on an
ephemeral port in a temp data dir, and the three Avro readers its files must satisfy."""

from __future__ import annotations

import io
import json
import math
import socket
import struct
import subprocess
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import avro.io
import avro.schema
import fastavro
import yaml
from avro.datafile import DataFileReader

from speeddata import archive
from speeddata.config import ROOT
from speeddata.schema import fingerprint, fingerprint_bytes
from tests.procs import Proc, parse_logfmt, start, wait_until

CHANNEL = "probe"
LEVELS = ["low", "mid", "high"]

PROBE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "probe",
    "namespace": "speeddata.test",
    "doc": "Every kind of field a channel may use",
    "x-owner": "relay tests",
    "fields": [
        {"name": "time", "type": "long", "logicalType": "timestamp-nanos", "doc": "device clock"},
        {"name": "counter", "type": "int", "doc": "sequence number of the record"},
        {"name": "value", "type": "double", "unit": "V"},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "label", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "tag", "type": {"type": "fixed", "name": "tag4", "size": 4}},
        {"name": "level", "type": {"type": "enum", "name": "level", "symbols": LEVELS}},
        {"name": "maybe", "type": ["null", "long"]},
        {"name": "samples", "type": {"type": "array", "items": "int"}},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "nothing", "type": "null"},
    ],
}

# The reject reasons in the order of proto/topics.yaml: the quarantine's u16 is index + 1.
REJECT_REASONS: list[str] = list(
    yaml.safe_load((ROOT / "proto" / "topics.yaml").read_text())["reject_reasons"]
)


def probe_record(i: int) -> dict[str, Any]:
    """A deterministic probe record for sequence number ``i``. Bytes stay printable ASCII
    (avrocat prints bytes as C strings, so NUL and DEL would not survive its JSON)."""
    return {
        "time": 1_700_000_000_000_000_000 + i * 1_000_003,
        "counter": i,
        "value": math.sin(i) * 1e3,
        "ratio": (i % 64) / 4.0 - 8.0,
        "ok": i % 2 == 0,
        "label": ["α-β", "word", "日本", ""][i % 4] + str(i),
        "blob": f"b{i % 97}".encode() * (i % 3),
        "tag": f"T{i % 1000:03d}".encode(),
        "level": LEVELS[i % 3],
        "maybe": None if i % 3 == 0 else -i * 10**9,
        "samples": list(range(-(i % 5), i % 5)),
        "attrs": {f"k{j}": "v" * j for j in range(i % 3)},
        "nothing": None,
    }


# -- encoders independent of the relay --------------------------------------------------------


def encode_fastavro(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """The bare Avro binary encoding of ``record`` by fastavro."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def encode_apache(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """The bare Avro binary encoding of ``record`` by the Apache ``avro`` package, as the
    original SpeedData senders produce it (``DatumWriter`` + ``BinaryEncoder``)."""
    out = io.BytesIO()
    parsed = avro.schema.parse(json.dumps(schema))
    avro.io.DatumWriter(parsed).write(record, avro.io.BinaryEncoder(out))
    return out.getvalue()


def probe_datagrams(start: int, count: int, per_datagram: int = 1) -> list[bytes]:
    """Probe records ``start`` to ``start + count - 1`` encoded by fastavro, ``per_datagram``
    bare records to a datagram (the last may hold fewer)."""
    recs = [probe_record(i) for i in range(start, start + count)]
    return [
        b"".join(encode_fastavro(PROBE_SCHEMA, r) for r in recs[i : i + per_datagram])
        for i in range(0, count, per_datagram)
    ]


def single_object(schema: dict[str, Any], body: bytes) -> bytes:
    """One record in Avro single-object encoding: ``C3 01``, the fingerprint, the body."""
    return b"\xc3\x01" + fingerprint_bytes(schema) + body


# -- the relay ---------------------------------------------------------------------------------


def relay_argv(
    binary: Path, schema_path: Path, data_dir: Path, channel: str = CHANNEL, port: int = 0
) -> list[str]:
    """The required flags (port 0: ephemeral, bound on 127.0.0.1)."""
    return [
        str(binary),
        f"--name={channel}",
        f"--port={port}",
        f"--schema={schema_path}",
        f"--data-dir={data_dir}",
        "--bind=127.0.0.1",
    ]


def write_schema(directory: Path, schema: Any, name: str = CHANNEL) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.avsc"
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class Relay:
    """A running relay and what the test needs to talk to it."""

    proc: Proc
    data_dir: Path
    schema: dict[str, Any]
    channel: str
    port: int
    sock: socket.socket = field(
        default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    )

    def send(self, datagrams: Iterable[bytes], pace_every: int = 200) -> int:
        """Sends datagrams in order; a short pause every ``pace_every`` keeps the test from
        outrunning the receive buffer on a loaded machine. Returns how many were sent."""
        n = 0
        for n, d in enumerate(datagrams, 1):
            self.sock.sendto(d, ("127.0.0.1", self.port))
            if n % pace_every == 0:
                time.sleep(0.002)
        return n

    def files(self) -> list[Path]:
        return archive.archive_files(self.data_dir, self.channel)

    def archived(self) -> list[dict[str, Any]]:
        """Every record of every file, through speeddata.archive (works while writing)."""
        return [r for p in self.files() for r in archive.read_records(p)]

    def wait_archived(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Waits until at least ``count`` records are archived; returns them all."""
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            found[:] = self.archived()
            return len(found) >= count

        wait_until(enough, timeout, what=f"{count} archived records (have {len(found)})")
        return found

    def stop(self) -> dict[str, str]:
        """SIGTERM; asserts exit 0 and returns the fields of the `event=stopped` line."""
        self.sock.close()
        code = self.proc.stop()
        assert code == 0, f"relay exited {code}:\n" + "\n".join(self.proc.lines[-20:])
        return events(self.proc, "stopped")[-1]

    def quarantine(self) -> list[QuarantineEntry]:
        return read_quarantine(self.data_dir / "quarantine" / f"{self.channel}.bin")


def start_relay(
    procs: list[Proc],
    binary: Path,
    data_dir: Path,
    *extra: str,
    schema: dict[str, Any] | None = None,
    channel: str = CHANNEL,
    time_field: str | None = "time",
    with_fingerprint: bool = True,
    flush_ms: int = 20,
) -> Relay:
    """Starts a relay for ``schema`` (the probe by default) with the schema file beside the
    data dir, waits for its readiness line and registers it with ``procs`` for teardown."""
    schema = PROBE_SCHEMA if schema is None else schema
    schema_path = write_schema(data_dir.parent / f"schemas-{data_dir.name}", schema, channel)
    argv = relay_argv(binary, schema_path, data_dir, channel) + [f"--flush-ms={flush_ms}"]
    if time_field:
        argv.append(f"--time-field={time_field}")
    if with_fingerprint:
        argv.append(f"--fingerprint={fingerprint(schema)}")
    proc = start([*argv, *extra])
    procs.append(proc)
    port = int(proc.ready["udp"].rsplit(":", 1)[1])
    return Relay(proc, data_dir, schema, channel, port)


def events(proc: Proc, name: str) -> list[dict[str, str]]:
    """The logfmt fields of every `event=<name>` line the process printed so far."""
    return [parse_logfmt(line) for line in proc.lines if line.startswith(f"event={name} ")]


def run_to_exit(argv: Sequence[str], timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Runs a relay expected to refuse to start; fails loudly if it keeps running."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


# -- the three readers -------------------------------------------------------------------------


def read_fastavro(path: Path) -> list[Any]:
    with open(path, "rb") as f:
        return list(fastavro.reader(f))


def read_apache(path: Path) -> list[Any]:
    with warnings.catch_warnings():
        # Apache avro does not know timestamp-nanos and reads rx_time as the long it is.
        warnings.simplefilter("ignore")
        with open(path, "rb") as f, DataFileReader(f, avro.io.DatumReader()) as reader:
            return list(reader)


def read_avrocat(path: Path) -> list[Any]:
    """The records as avro-c's `avrocat` prints them (Avro JSON encoding), parsed."""
    out = subprocess.run(["avrocat", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"avrocat {path} failed: {out.stderr}"
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def avro_json(schema: Any, records: list[dict[str, Any]]) -> list[Any]:
    """``records`` in the Avro JSON encoding (as avrocat prints them), parsed."""
    out = io.StringIO()
    fastavro.json_writer(out, fastavro.parse_schema(schema), records)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def assert_three_readers_agree(path: Path) -> list[dict[str, Any]]:
    """Reads a closed archive file with fastavro, Apache avro and avrocat; asserts they see
    the same records; returns fastavro's."""
    by_fastavro = read_fastavro(path)
    assert read_apache(path) == by_fastavro, f"Apache avro disagrees with fastavro on {path}"
    with open(path, "rb") as f:
        schema = fastavro.reader(f).writer_schema
    assert read_avrocat(path) == avro_json(schema, by_fastavro), f"avrocat disagrees on {path}"
    return by_fastavro


# -- the quarantine file -----------------------------------------------------------------------

_ENTRY = struct.Struct("<IqH")


class QuarantineEntry(NamedTuple):
    rx_ns: int
    reason: str
    payload: bytes


def read_quarantine(path: Path) -> list[QuarantineEntry]:
    """Entries of a quarantine file (proto/WIRE.md); asserts the file holds whole entries."""
    if not path.exists():
        return []
    data = path.read_bytes()
    entries, pos = [], 0
    while pos < len(data):
        assert pos + _ENTRY.size <= len(data), f"torn entry header at {pos} of {path}"
        length, rx_ns, reason = _ENTRY.unpack_from(data, pos)
        pos += _ENTRY.size
        assert pos + length <= len(data), f"torn entry at {pos} of {path}"
        entries.append(QuarantineEntry(rx_ns, REJECT_REASONS[reason - 1], data[pos : pos + length]))
        pos += length
    return entries
