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
    folder = archive_dir(data_dir, channel)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromtimestamp(rx_times[0] / 1e9, UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{channel}-{stamp}-{seq:06d}.avro"
    records = [
        {"rx_time": t, "time": t + device_offset_ns, "value": float(i), "pad": b"\0" * pad}
        for i, t in enumerate(rx_times)
    ]
    meta = {
        "speeddata.channel": channel,
        "speeddata.time_field": "time",
        "speeddata.time_unit": "ns",
    }
    with open(path, "wb") as f:
        fastavro.writer(
            f, fastavro.parse_schema(SCHEMA), records, metadata=meta, sync_interval=1 << 30
        )
    os.utime(path, ns=(rx_times[-1], rx_times[-1]))
    return path
