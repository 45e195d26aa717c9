"""The relay's hand-written event encoders (native/zmq_relay/src/events.c) against proto/:
the C unit test writes one payload per event, fastavro decodes them with the schemas of proto/
(speeddata.events) and every field must come back as encoded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from speeddata import events
from tests.conftest import RELAY_BINARY

TEST_EVENTS = RELAY_BINARY.parent / "test_events"
HEAD = {
    "source": "relay/ch/42-1700000000000000000",
    "seq": 7,
    "time": 1700000000123456789,
    "channel": "ch",
}
REASONS = [
    "empty", "truncated", "varint", "int_range", "boolean", "length", "utf8", "union", "enum",
    "depth", "trailing", "too_many", "items",
]  # fmt: skip


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if not TEST_EVENTS.exists():
        pytest.fail(f"{TEST_EVENTS} is not built: run `make -C native/zmq_relay test`")
    out = tmp_path_factory.mktemp("events")
    subprocess.run([str(TEST_EVENTS), str(out)], check=True, timeout=15)
    return {p.stem: p.read_bytes() for p in Path(out).glob("*.bin")}


def test_status(payloads: dict[str, bytes]) -> None:
    name, fields = events.decode(payloads["status"])
    assert name == "RelayStatus"
    counters = [
        "received", "bytes", "records", "kernel_drops", "archived", "unarchived",
        "archive_bytes", "files", "quarantined", "quarantine_dropped", "forwarded", "decimated",
        "mcast_errors", "bus_dropped",
    ]  # fmt: skip
    assert fields == {
        **HEAD,
        "state": "degraded",
        "reason": "archive: disk full",
        **{c: i + 1 for i, c in enumerate(counters)},
        "rejected": {r: 101 + i for i, r in enumerate(REASONS)},
        "rate": 1.5,
        "record_rate": 2.25,
        "current_file": "/data/archive/ch/x.avro",
        "started": 1700000000000000000,
    }
    events.assert_event_listed("relay.status.ch", fields)


def test_files(payloads: dict[str, bytes]) -> None:
    assert events.decode(payloads["file_opened"]) == (
        "RelayFile",
        {
            **HEAD,
            "state": "opened",
            "path": "/d/a.avro",
            "records": 0,
            "bytes": 123,
            "first_rx_time": None,
            "last_rx_time": None,
            "first_device_time": None,
            "last_device_time": None,
            "time_unit": "ns",
        },
    )
    name, closed = events.decode(payloads["file_closed"])
    assert closed["state"] == "closed" and closed["records"] == 3 and closed["bytes"] == 456
    assert (closed["first_rx_time"], closed["last_rx_time"]) == (10, -20)
    assert (closed["first_device_time"], closed["last_device_time"]) == (30, 40)
    assert closed["time_unit"] == "ms"


def test_errors(payloads: dict[str, bytes]) -> None:
    assert events.decode(payloads["error"]) == (
        "RelayError",
        {
            **HEAD,
            "kind": "repair",
            "errno": 0,
            "detail": "cut back to the last block",
            "path": "/d/b.avro",
            "bytes": 1234,
        },
    )
    name, fields = events.decode(payloads["error_nopath"])
    assert fields["path"] is None and fields["kind"] == "open" and fields["errno"] == 28
    events.assert_event_listed("relay.error.c", fields)


def test_data_batch(payloads: dict[str, bytes]) -> None:
    assert events.decode(payloads["data"]) == (
        "DataBatch",
        {
            **HEAD,
            "fingerprint": "8f5c393f1ad57572",
            "count": 2,
            "records": bytes([0x02, 0x54, 0x04, 0x56]),
        },
    )
