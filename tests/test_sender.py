"""speeddata.Sender over a real UDP socket on 127.0.0.1: its bytes against the Apache `avro`
package's encoding, packing, ordering, and records that must not be sent."""

from __future__ import annotations

import io
import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from speeddata.schema import SchemaError
from speeddata.sender import DEFAULT_MAX_DATAGRAM, RecordError, Sender

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "probe",
    "namespace": "test",
    "fields": [
        {"name": "time", "type": "long", "logicalType": "timestamp-nanos"},
        {"name": "label", "type": "string"},
        {"name": "n", "type": "int"},
        {"name": "x", "type": "double"},
        {"name": "ok", "type": "boolean"},
        {"name": "maybe", "type": ["null", "float"]},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["A", "B", "C"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "raw", "type": "bytes"},
        {"name": "id", "type": {"type": "fixed", "name": "Id", "size": 4}},
        {
            "name": "pos",
            "type": {
                "type": "record",
                "name": "Pos",
                "fields": [{"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}],
            },
        },
    ],
}
APACHE = avro.schema.parse(json.dumps(SCHEMA))


def record(i: int, label_size: int = 3) -> dict[str, Any]:
    return {
        "time": 1_700_000_000_000_000_000 + i,
        "label": "é" * label_size,
        "n": i - 50,
        "x": i / 3,
        "ok": i % 2 == 0,
        "maybe": None if i % 3 else 0.5,
        "mode": "ABC"[i % 3],
        "tags": ["t"] * (i % 4),
        "attrs": {"k": i} if i % 2 else {},
        "raw": bytes(range(i % 7)),
        "id": b"\x00\x01\x02\x03",
        "pos": {"lat": 1.5, "lon": -i},
    }


def apache_bare(rec: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    avro.io.DatumWriter(APACHE).write(rec, avro.io.BinaryEncoder(out))
    return out.getvalue()


def apache_single_object(rec: dict[str, Any]) -> bytes:
    return b"\xc3\x01" + APACHE.fingerprint("CRC-64-AVRO") + apache_bare(rec)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(15)
    yield sock
    sock.close()


def sender(receiver: socket.socket, **kwargs: Any) -> Sender:
    return Sender(SCHEMA, "127.0.0.1", receiver.getsockname()[1], **kwargs)


def receive(receiver: socket.socket, count: int) -> list[bytes]:
    return [receiver.recv(70000) for _ in range(count)]


def nothing_waiting(receiver: socket.socket) -> bool:
    """Loopback delivers within sendto, so a datagram sent is already queued."""
    readable, _, _ = select.select([receiver], [], [], 0)
    return not readable


def split_records(datagram: bytes) -> list[Any]:
    parsed = fastavro.parse_schema(SCHEMA)
    buf = io.BytesIO(datagram)
    out = []
    while buf.tell() < len(datagram):
        out.append(fastavro.schemaless_reader(buf, parsed))
    return out


@pytest.mark.parametrize("encoding", ["bare", "single-object"])
def test_send_puts_each_record_in_its_own_datagram_as_apache_avro_encodes_it(
    receiver: socket.socket, encoding: str
):
    expected = apache_bare if encoding == "bare" else apache_single_object
    records = [record(i) for i in range(12)]
    with sender(receiver, encoding=encoding) as s:
        for r in records:
            s.send(r)
    assert receive(receiver, len(records)) == [expected(r) for r in records]
    assert nothing_waiting(receiver)


def test_single_object_prefix_is_the_contract_fingerprint(receiver: socket.socket):
    with Sender('"int"', "127.0.0.1", receiver.getsockname()[1], encoding="single-object") as s:
        s.send(7)
    assert receive(receiver, 1) == [bytes.fromhex("c3018f5c393f1ad57572") + b"\x0e"]


@pytest.mark.parametrize("encoding", ["bare", "single-object"])
def test_send_many_packs_whole_records_in_order(receiver: socket.socket, encoding: str):
    max_datagram = 300
    records = [record(i, label_size=i % 40) for i in range(200)]
    expected = apache_bare if encoding == "bare" else apache_single_object
    encoded = [expected(r) for r in records]
    with sender(receiver, encoding=encoding, max_datagram=max_datagram) as s:
        count = s.send_many(records)
    datagrams = receive(receiver, count)
    assert nothing_waiting(receiver)
    assert all(len(d) <= max_datagram for d in datagrams)
    assert b"".join(datagrams) == b"".join(encoded)
    ends = _record_ends(datagrams, encoded)  # whole records only ...
    # ... and each datagram as full as the next record allows
    for i, d in enumerate(datagrams[:-1]):
        assert len(d) + len(encoded[ends[i]]) > max_datagram
    if encoding == "bare":
        assert [r for d in datagrams for r in split_records(d)] == records


def _record_ends(datagrams: list[bytes], encoded: list[bytes]) -> list[int]:
    """For each datagram, the index of the first record after it; checks that datagrams
    split only between records."""
    ends, i = [], 0
    for d in datagrams:
        used = 0
        while used < len(d):
            used += len(encoded[i])
            i += 1
        assert used == len(d), "a record was split between datagrams"
        ends.append(i)
    return ends


def test_a_record_larger_than_max_datagram_goes_alone(receiver: socket.socket):
    small, big = record(1), record(2, label_size=400)
    assert len(apache_bare(big)) > 200 > 2 * len(apache_bare(small))
    with sender(receiver, max_datagram=200) as s:
        assert s.send_many([small, small, big, small]) == 3
    assert receive(receiver, 3) == [
        apache_bare(small) * 2,
        apache_bare(big),
        apache_bare(small),
    ]


def test_add_packs_until_flush_and_close_flushes(receiver: socket.socket):
    one = apache_bare(record(1))
    s = sender(receiver, max_datagram=2 * len(one) + 1)
    s.add(record(1))
    s.add(record(1))
    assert nothing_waiting(receiver)
    s.add(record(1))  # does not fit: the first two go
    assert receive(receiver, 1) == [one * 2]
    s.send(record(5))  # the pending record goes first, then this one
    assert receive(receiver, 2) == [one, apache_bare(record(5))]
    assert s.flush() == 0
    s.add(record(1))
    s.close()
    assert receive(receiver, 1) == [one]


@pytest.mark.parametrize(
    "bad",
    [
        {**record(1), "n": 2**31},
        {**record(1), "label": 5},
        {**record(1), "mode": "D"},
        {**record(1), "id": b"\x00"},
        {k: v for k, v in record(1).items() if k != "x"},
        {**record(1), "pos": {"lat": 1.0}},
    ],
)
def test_a_record_that_does_not_fit_raises_and_nothing_is_sent(
    receiver: socket.socket, bad: dict[str, Any]
):
    with sender(receiver) as s:
        s.add(record(0))
        with pytest.raises(RecordError, match="does not fit the schema"):
            s.send(bad)
        with pytest.raises(RecordError):
            s.send_many([record(1), record(2), bad, record(3)])
        assert nothing_waiting(receiver)
        s.send(record(9))
    assert receive(receiver, 2) == [apache_bare(record(0)), apache_bare(record(9))]
    assert nothing_waiting(receiver)


def test_a_record_too_large_for_udp_raises(receiver: socket.socket):
    with sender(receiver) as s, pytest.raises(RecordError, match="exceeds a UDP datagram"):
        s.send_many([record(1), {**record(2), "raw": b"x" * 70000}])
    assert nothing_waiting(receiver)


def test_schema_from_path_or_text(receiver: socket.socket, tmp_path: Path):
    path = tmp_path / "probe.avsc"
    path.write_text(json.dumps(SCHEMA))
    port = receiver.getsockname()[1]
    for source in (path, str(path), json.dumps(SCHEMA)):
        with Sender(source, "127.0.0.1", port) as s:
            s.send(record(3))
    assert receive(receiver, 3) == [apache_bare(record(3))] * 3


def test_bad_arguments_raise_clear_errors(tmp_path: Path):
    with pytest.raises(ValueError, match="encoding"):
        Sender(SCHEMA, "127.0.0.1", 9, encoding="json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_datagram"):
        Sender(SCHEMA, "127.0.0.1", 9, max_datagram=0)
    with pytest.raises(SchemaError):
        Sender(
            {"type": "record", "name": "r", "fields": [{"name": "a", "type": "nope"}]},
            "127.0.0.1",
            9,
        )
    with pytest.raises(SchemaError, match="cannot read"):
        Sender(tmp_path / "missing.avsc", "127.0.0.1", 9)
    assert DEFAULT_MAX_DATAGRAM == 1472
