"""Regenerates the corpus of archive files written by the relay (tests/data/relay/*.avro).

    make relay && .venv/bin/python -m tests.data.relay.make_corpus

For each entry of CORPUS the real relay (native/zmq_relay/build/zmq_relay) runs on the schema
``<name>.avsc`` beside this script, in a temp dir, receives the entry's records and stops; its
one archive file becomes ``<name>.avro`` here. The records are deterministic; ``rx_time`` is
whenever the relay received them. The entries: the demo ``example`` channel (its schema a
frozen copy of config/agents/example.avsc; time field in ns),
``all_types`` (every Avro type: null, boolean, int, long, float, double, bytes, string, fixed,
enum, unions, array, map, nested record; time field in us) and the recursive ``linked_list``.

tests/test_relay_corpus.py reads these files with fastavro, Apache avro, avrocat and
speeddata.archive, and checks that the current relay still writes the same header for each
schema. Regenerate only on purpose (an intended change of what the relay writes), and commit
the new files with the change."""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speeddata.schema import fingerprint
from tests.conftest import RELAY_BINARY
from tests.procs import start
from tests.relaytools import Relay, encode_apache, encode_fastavro, relay_argv, single_object

HERE = Path(__file__).resolve().parent
MAX_BYTES = 20_000
"""The corpus stays small: each file under this size."""

Record = dict[str, Any]


def example_records() -> list[Record]:
    """40 records shaped like the demo sender's, one a second."""
    words = ["alpha", "bravo", "charlie", "delta", "echo"]
    return [
        {
            "time": 1_700_000_000_000_000_000 + i * 1_000_000_000,
            "message": words[i % len(words)],
            "counter": i,
            "sine_wave": math.sin(2 * math.pi * i / 20),
            "ramp": -1.0 + (i % 40) / 20,
            "square_wave": 1.0 if i % 20 < 10 else -1.0,
            "noise": (i * 7919 % 1000) / 1000 - 0.5,
        }
        for i in range(40)
    ]


def _point(i: int) -> Record:
    return {"x": i / 4, "y": -i / 2, "name": None if i % 2 else f"p{i}"}


def all_types_records() -> list[Record]:
    """30 records that take every branch of every union. Bytes stay printable ASCII (avrocat
    prints bytes as C strings); floats are exact in 32 bits."""
    return [
        {
            "time": 1_700_000_000_000_000 + i * 1000,
            "nothing": None,
            "ok": i % 2 == 0,
            "count": i - 15,
            "total": (i - 15) * 10**12,
            "ratio": i / 8,
            "volts": i * 0.1,
            "blob": f"b{i}".encode() * (i % 3),
            "label": ["α-β", "word", "日本", ""][i % 4] + str(i),
            "tag": f"T{i:03d}".encode(),
            "level": ["low", "mid", "high"][i % 3],
            "maybe": None if i % 3 == 0 else i * 1.5,
            "either": [None, i * 10**10, f"s{i}"][i % 3],
            "samples": list(range(-(i % 5), i % 5)),
            "attrs": {f"k{j}": "v" * j for j in range(i % 3)},
            "position": _point(i),
            "previous": None if i == 0 else _point(i - 1),
        }
        for i in range(30)
    ]


def linked_list_records() -> list[Record]:
    """20 linked lists of 1 to 5 nodes."""
    records = []
    for i in range(20):
        head: Record | None = None
        for v in reversed(range(i, i + i % 5 + 1)):
            head = {"v": v, "next": head}
        assert head is not None
        records.append(head)
    return records


@dataclass(frozen=True)
class Entry:
    """One corpus file: the channel ``name`` (its ``<name>.avsc`` and ``<name>.avro``), its
    records, the relay's --time-field, and how the records are put in datagrams."""

    name: str
    records: Callable[[], list[Record]]
    time_field: str | None
    datagrams: Callable[[Any, list[Record]], list[bytes]]

    @property
    def schema_path(self) -> Path:
        return HERE / f"{self.name}.avsc"

    @property
    def corpus_path(self) -> Path:
        return HERE / f"{self.name}.avro"


def _apache_four_per_datagram(schema: Any, records: list[Record]) -> list[bytes]:
    grams = [encode_apache(schema, r) for r in records]
    return [b"".join(grams[i : i + 4]) for i in range(0, len(grams), 4)]


def _single_object(schema: Any, records: list[Record]) -> list[bytes]:
    return [single_object(schema, encode_fastavro(schema, r)) for r in records]


def _bare(schema: Any, records: list[Record]) -> list[bytes]:
    return [encode_fastavro(schema, r) for r in records]


CORPUS = [
    Entry("example", example_records, "time", _apache_four_per_datagram),
    Entry("all_types", all_types_records, "time", _single_object),
    Entry("linked_list", linked_list_records, None, _bare),
]


def write_archive(binary: Path, entry: Entry, work: Path) -> Path:
    """Runs the relay for ``entry`` with its data dir in ``work``, sends the records, stops
    the relay; returns its one archive file."""
    schema = json.loads(entry.schema_path.read_text(encoding="utf-8"))
    argv = relay_argv(binary, entry.schema_path, work / "data", entry.name)
    argv.append(f"--fingerprint={fingerprint(schema)}")
    if entry.time_field:
        argv.append(f"--time-field={entry.time_field}")
    proc = start(argv)
    port = int(proc.ready["udp"].rsplit(":", 1)[1])
    relay = Relay(proc, work / "data", schema, entry.name, port)
    try:
        records = entry.records()
        relay.send(entry.datagrams(schema, records))
        relay.wait_archived(len(records))
        relay.stop()
    finally:
        proc.stop()
    [path] = relay.files()
    return path


def main() -> int:
    if not RELAY_BINARY.exists():
        print(f"{RELAY_BINARY} is not built: run `make relay`", file=sys.stderr)
        return 1
    for entry in CORPUS:
        with tempfile.TemporaryDirectory(prefix="corpus-") as work:
            path = write_archive(RELAY_BINARY, entry, Path(work))
            size = path.stat().st_size
            if size >= MAX_BYTES:
                print(f"{entry.name}: {size} bytes, over {MAX_BYTES}", file=sys.stderr)
                return 1
            shutil.copyfile(path, entry.corpus_path)
        print(f"{entry.corpus_path.relative_to(HERE.parent.parent.parent)}: {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
