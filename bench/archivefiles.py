"""Archive files made without a relay, for the tests and benchmarks of what reads the archive:
standard Avro object container files named and laid out as the relay's, with chosen rx_times."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro

from speeddata.archive import archive_dir

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "probe",
    "fields": [
        {"name": "rx_time", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
        {"name": "time", "type": "long"},
        {"name": "value", "type": "double"},
        {"name": "pad", "type": "bytes"},
    ],
}


def write_archive_file(
    data_dir: Path,
    channel: str,
    seq: int,
    rx_times: Sequence[int],
    pad: int = 0,
    device_offset_ns: int = 0,
) -> Path:
    """``<data>/archive/<channel>/<channel>-<start>-<seq>.avro`` with one record per rx_time
    (device time = rx_time + ``device_offset_ns``, ``pad`` bytes of padding each), one block;
    its mtime is its last record's time."""
    records = [
        {"rx_time": t, "time": t + device_offset_ns, "value": float(i), "pad": b"\0" * pad}
        for i, t in enumerate(rx_times)
    ]
    return write_records(data_dir, channel, seq, SCHEMA, records, sync_interval=1 << 30)


def write_records(
    data_dir: Path,
    channel: str,
    seq: int,
    schema: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    time_field: str = "time",
    sync_interval: int = 16000,
) -> Path:
    """An archive file of ``records`` (archive-schema records, ``rx_time`` first), named by its
    first record's rx_time, blocks of about ``sync_interval`` bytes; mtime its last rx_time."""
    folder = archive_dir(data_dir, channel)
    folder.mkdir(parents=True, exist_ok=True)
    first, last = records[0]["rx_time"], records[-1]["rx_time"]
    stamp = datetime.fromtimestamp(first / 1e9, UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{channel}-{stamp}-{seq:06d}.avro"
    meta = {
        "speeddata.channel": channel,
        "speeddata.time_field": time_field,
        "speeddata.time_unit": "ns",
    }
    with open(path, "wb") as f:
        fastavro.writer(
            f, fastavro.parse_schema(schema), records, metadata=meta, sync_interval=sync_interval
        )
    os.utime(path, ns=(last, last))
    return path
