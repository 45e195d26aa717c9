"""read_avro on archives the real relay writes (the file being written included), and the whole
way from records sent to the relay, through speeddata.columnar and speeddata.hdf5, back to the
same values with read_hdf5."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from speeddata.columnar import channel_files, read_channel
from speeddata.dataset import Channel, Set, read_avro, read_hdf5
from speeddata.hdf5 import write_hdf5
from tests.procs import Proc
from tests.relaytools import PROBE_SCHEMA, Relay, probe_datagrams, probe_record, start_relay

COUNT = 300
T0 = probe_record(0)["time"]
STEP = probe_record(1)["time"] - T0


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Relay]:
    """A running relay of the probe channel (every kind of field) that archived COUNT records
    over several files (rotation by size) and keeps its last file open."""
    procs: list[Proc] = []
    data_dir = tmp_path_factory.mktemp("probe") / "data"
    relay = start_relay(procs, relay_binary, data_dir, "--rotate-bytes=8192")
    relay.send(probe_datagrams(0, COUNT))
    relay.wait_archived(COUNT)
    yield relay
    for proc in procs:
        proc.stop()


def value_at(signal: Any, i: int) -> Any:
    """Row ``i`` of a signal as a Python value comparable to the record sent."""
    if signal.valid is not None and not signal.valid[i]:
        return None
    v = signal.values[i]
    if signal.symbols is not None:
        return signal.symbols[v]
    if isinstance(v, np.void):
        return v.tobytes()
    if isinstance(v, np.ndarray | np.generic):
        return v.tolist()
    return v


def assert_channel_is(channel: Channel, records: list[dict[str, Any]]) -> None:
    """Every signal of ``channel`` holds exactly the records' values, in order."""
    assert channel.rows == len(records)
    for name in PROBE_SCHEMA["fields"]:
        field = name["name"]
        signal = channel.signal[field]
        got = [value_at(signal, i) for i in range(len(records))]
        assert got == [r[field] for r in records], field
    expected_time = np.array([r["time"] for r in records], dtype="datetime64[ns]")
    np.testing.assert_array_equal(channel.time, expected_time)


def test_read_avro_of_the_channel_folder_while_the_relay_writes(probe: Relay) -> None:
    assert probe.proc.popen.poll() is None and len(probe.files()) > 2
    s = read_avro(probe.data_dir / "archive" / "probe")
    assert s.channels == ["probe"]
    assert_channel_is(s.probe, [probe_record(i) for i in range(COUNT)])
    assert s.probe.time_field == "time" and s.probe.time_unit == "ns"
    assert s.probe.rx_time.dtype == np.int64 and np.all(np.diff(s.probe.rx_time) >= 0)


def test_read_avro_of_a_data_dir_and_of_one_file(probe: Relay) -> None:
    whole = read_avro(probe.data_dir)
    assert whole.channels == ["probe"] and whole.probe.rows == COUNT
    first = probe.files()[0]
    one = read_avro(first)
    assert one.channels == ["probe"] and 0 < one.probe.rows < COUNT
    assert_channel_is(one.probe, [probe_record(i) for i in range(one.probe.rows)])


@pytest.mark.parametrize(
    "start",
    [
        T0 + 100 * STEP,
        np.datetime64(T0 + 100 * STEP, "ns"),
        str(np.datetime64(T0 + 100 * STEP, "ns")) + "Z",
    ],
)
def test_read_avro_range_on_the_device_clock(probe: Relay, start: Any) -> None:
    s = read_avro(probe.data_dir / "archive" / "probe", start, T0 + 200 * STEP)
    assert_channel_is(s.probe, [probe_record(i) for i in range(100, 200)])
    assert s.attrs["range_start_ns"] == T0 + 100 * STEP
    assert "range [" in repr(s)


def test_read_avro_range_on_rx_time(probe: Relay) -> None:
    rx = read_avro(probe.data_dir).probe.rx_time
    start = datetime.fromtimestamp(int(rx[50]) // 10**9, UTC)
    s = read_avro(probe.data_dir, start, int(rx[250]) + 1, clock="rx")
    expected = [i for i in range(COUNT) if start.timestamp() * 10**9 <= rx[i] <= rx[250]]
    assert_channel_is(s.probe, [probe_record(i) for i in expected])


def test_from_avro_in_the_original_form(probe: Relay, tmp_path: Path) -> None:
    schema_path = tmp_path / "probe.avsc"
    schema_path.write_text(json.dumps(PROBE_SCHEMA))
    s = Set.from_avro(probe.files()[0], str(schema_path), "renamed")
    assert s.channels == ["renamed"]
    assert s.renamed.counter[0] == 0


def test_records_sent_come_back_from_an_hdf5_export(probe: Relay, tmp_path: Path) -> None:
    files = channel_files(probe.data_dir, "probe", T0 + 10 * STEP, T0 + 290 * STEP, clock="device")
    columns = read_channel(files, start_ns=T0 + 10 * STEP, end_ns=T0 + 290 * STEP)
    path = tmp_path / "probe.h5"
    write_hdf5([columns], path, compression="gzip:1")
    assert_channel_is(read_hdf5(path).probe, [probe_record(i) for i in range(10, 290)])
    with h5py.File(path, "r") as f:
        g = f["probe"]
        assert g.attrs["rows"] == 280 and g.attrs["file_count"] == len(files)
        assert json.loads(g.attrs["schema"])["x-owner"] == "relay tests"
        assert g["value"].attrs["units"] == "V"
        assert g["counter"].attrs["doc"] == "sequence number of the record"
        assert h5py.check_enum_dtype(g["level"].dtype) == {"low": 0, "mid": 1, "high": 2}
        assert list(g["maybe.valid"][:4]) == [True, True, False, True]  # records 10-13


def test_an_empty_range_is_a_set_of_empty_typed_signals(probe: Relay, tmp_path: Path) -> None:
    s = read_avro(probe.data_dir, "2001-01-01T00:00:00Z", "2001-01-02T00:00:00Z")
    assert s.probe.rows == 0 and s.probe.value.dtype == np.float64
    columns = read_channel(probe.files(), start_ns=0, end_ns=1)
    write_hdf5([columns], tmp_path / "empty.h5")
    empty = read_hdf5(tmp_path / "empty.h5").probe
    assert empty.rows == 0 and empty.counter.dtype == np.int32
