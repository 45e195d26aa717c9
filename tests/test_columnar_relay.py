"""speeddata.columnar on archives the real relay writes: ranges cutting through files and across
rotations on both clocks, and the file being written, every column against fastavro's values."""

from __future__ import annotations

import time

from speeddata import archive
from speeddata._blockindex import INDEXES
from speeddata.columnar import channel_files, read_channel
from tests.columnartools import assert_columns_equal_records
from tests.relaytools import probe_datagrams, start_relay


def test_ranges_across_rotations_and_the_file_being_written(relay_binary, procs, tmp_path):
    INDEXES.clear()
    data = tmp_path / "data"
    relay = start_relay(procs, relay_binary, data, "--rotate-seconds=1")
    total = 0
    for round_ in range(12):  # about 2.5 s: a rotation every second, blocks every 20 ms
        relay.send(probe_datagrams(total, 50, per_datagram=1 + round_ % 3))
        total += 50
        time.sleep(0.2)
    records = relay.wait_archived(total)
    files = relay.files()
    assert len(files) >= 3, f"only {len(files)} files"
    by_file = [archive.read_records(p) for p in files]

    # the relay still runs: the newest file is being written (no close), read to its last block
    everything = read_channel(channel_files(data, "probe"), clock="rx")
    assert_columns_equal_records(everything, records)
    assert everything.extra["stats"]["files"] == len(files) and everything.channel == "probe"
    assert everything.extra["stats"]["polars_files"] == len(files), "the fast path read none"
    assert everything.time_field == "time" and everything.time_unit == "ns"
    with archive.open_archive(files[-1]) as f:
        assert everything.extra["schema_text"] == f.header.schema_text  # the relay's, exact
        assert everything.extra["schema_versions"] == [f.header.fingerprint]

    # rx_time: from the middle of the first file to the middle of the second
    lo = by_file[0][len(by_file[0]) // 2]["rx_time"]
    hi = by_file[1][len(by_file[1]) // 2]["rx_time"]
    picked = channel_files(data, "probe", lo, hi, clock="rx")
    cc = read_channel(picked, start_ns=lo, end_ns=hi, clock="rx")
    want = [r for r in records if lo <= r["rx_time"] < hi]
    assert want and cc.clock == "rx"
    assert_columns_equal_records(cc, want)
    assert set(cc.files) == {str(files[0]), str(files[1])}
    stats = cc.extra["stats"]
    assert stats["blocks_decoded"] < stats["blocks"], "every block decoded for part of the range"

    # device time (the probe's `time`, ns): a range across the second rotation
    dlo = by_file[1][-3]["time"]
    dhi = by_file[2][2]["time"]
    cc = read_channel(channel_files(data, "probe", dlo, dhi, clock="device"), start_ns=dlo,
                      end_ns=dhi)  # fmt: skip
    assert cc.clock == "device"
    assert_columns_equal_records(cc, [r for r in records if dlo <= r["time"] < dhi])
    assert cc.rows == 5 and len(cc.files) == 2
    relay.stop()
