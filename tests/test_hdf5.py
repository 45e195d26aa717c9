"""speeddata.hdf5: channels' columns to HDF5 per the contract's layout and type table, read back
with plain h5py (types, attributes) and with read_hdf5 (exact values)."""

from __future__ import annotations

import io
import json
import tempfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from speeddata.dataset import read_hdf5
from speeddata.hdf5 import Compression, CompressionError, HDF5Writer, write_hdf5
from tests.hdf5tools import LEVELS, T0, every_type_columns, every_type_values, simple_columns


@pytest.fixture
def every_h5(tmp_path: Path) -> Path:
    path = tmp_path / "every.h5"
    write_hdf5([every_type_columns()], path, compression="gzip:1")
    return path


def test_layout_types_with_plain_h5py(every_h5: Path) -> None:
    with h5py.File(every_h5, "r") as f:
        g = f["every"]
        assert list(g) == [
            "rx_time", "time", "i", "l", "f", "d", "ok", "s", "b", "fx", "e", "maybe",
            "maybe.valid", "maybe_s", "maybe_s.valid", "maybe_e", "maybe_e.valid", "pos.x",
            "pos.label", "samples", "words", "attrs", "either", "either.valid", "fx2",
        ]  # fmt: skip
        assert g["rx_time"].dtype == np.int64
        assert g["time"].dtype == np.int64
        assert g["i"].dtype == np.int32 and g["l"].dtype == np.int64
        assert g["f"].dtype == np.float32 and g["d"].dtype == np.float64
        assert g["ok"].dtype == np.bool_ and g["maybe.valid"].dtype == np.bool_
        for name in ("s", "maybe_s", "pos.label", "words", "attrs", "either"):
            assert h5py.check_string_dtype(g[name].dtype).encoding == "utf-8", name
            assert h5py.check_string_dtype(g[name].dtype).length is None, name
        assert h5py.check_vlen_dtype(g["b"].dtype) == np.uint8
        assert h5py.check_vlen_dtype(g["samples"].dtype) == np.int32
        for name in ("fx", "fx2"):
            assert g[name].dtype == np.dtype("V4")
            assert g[name].id.get_type().get_class() == h5py.h5t.OPAQUE
        for name in ("e", "maybe_e"):
            assert h5py.check_enum_dtype(g[name].dtype) == {s: i for i, s in enumerate(LEVELS)}
            assert g[name].id.get_type().get_class() == h5py.h5t.ENUM
        assert [g[n].attrs["encoding"] for n in ("s", "b", "samples", "attrs", "e")] == [
            "utf8", "bytes", "vlen", "json", "native",
        ]  # fmt: skip
        for dataset in g.values():
            assert dataset.chunks is not None, dataset.name
            assert dataset.compression == "gzip", dataset.name


def test_attributes_describe_the_file(every_h5: Path) -> None:
    with h5py.File(every_h5, "r") as f:
        assert f.attrs["format"] == "speeddata-set"
        assert f.attrs["format_version"] == 1
        assert list(f.attrs["channels"]) == ["every"]
        assert f.attrs["clock"] == "device"
        assert f.attrs["range_start_ns"] == T0 and f.attrs["range_end_ns"] == T0 + 10**10
        assert f.attrs["range_start"] == "2023-11-14T22:13:20.000000000Z"
        assert f.attrs["speeddata_version"] and f.attrs["created"].endswith("+00:00")
        g = f["every"]
        assert g.attrs["time_field"] == "time" and g.attrs["time_unit"] == "ns"
        assert json.loads(g.attrs["schema"])["doc"] == "every type of the HDF5 table"
        assert g.attrs["rows"] == 7
        assert list(g.attrs["files"]) == ["every-20231114T221320Z-000001.avro"]
        assert g.attrs["file_count"] == 1
        assert g.attrs["range_end"] == "2023-11-14T22:13:30.000000000Z"
        assert json.loads(g.attrs["extra"]) == {"schema_versions": ["abc"]}
        assert list(g.attrs["signals"])[:3] == ["time", "i", "l"]
        assert g["i"].attrs["units"] == "counts" and g["i"].attrs["doc"] == "an int"
        assert g["f"].attrs["units"] == "V"
        assert g["pos.x"].attrs["units"] == "m"
        assert g["time"].attrs["logicalType"] == "timestamp-nanos"
        assert g["rx_time"].attrs["units"] == "ns"
        assert json.loads(g["maybe"].attrs["avro_type"]) == ["null", "long"]
        assert g["maybe.valid"].attrs["valid_for"] == "maybe"


def test_plain_h5py_reads_the_values(every_h5: Path) -> None:
    expected = every_type_values()
    with h5py.File(every_h5, "r") as f:
        g = f["every"]
        np.testing.assert_array_equal(g["i"][()], expected["i"][0])
        assert list(g["s"].asstr()[()]) == list(expected["s"][0])
        assert [bytes(v) for v in g["b"][()]] == list(expected["b"][0])
        np.testing.assert_array_equal(g["maybe.valid"][()], expected["maybe"][1])
        assert json.loads(g["attrs"].asstr()[2]) == {"k0": "", "k1": "v"}
        assert list(g["either.valid"][()]) == [v is not None for v in expected["either"][0]]


def test_read_hdf5_gives_back_exact_values(every_h5: Path) -> None:
    ch = read_hdf5(every_h5).channel["every"]
    for name, (values, valid) in every_type_values().items():
        got = ch.signal[name]
        if values.dtype == object:
            assert [_plain(v) for v in got] == [_plain(v) for v in values], name
        else:
            assert got.dtype == values.dtype, name
            np.testing.assert_array_equal(got.view(np.ndarray), values, err_msg=name)
        if valid is None and name != "either":
            assert got.valid is None, name
        elif valid is not None:
            np.testing.assert_array_equal(got.valid, valid, err_msg=name)
    assert ch.signal["e"].symbols == LEVELS
    assert list(ch.signal["e"].labels()) == ["low", "mid", "high", "low", "mid", "high", "low"]
    np.testing.assert_array_equal(ch.rx_time, every_type_values()["time"][0] + 5000)


def _plain(value: object) -> object:
    return value.tolist() if isinstance(value, np.ndarray) else value


def test_empty_range_gives_typed_empty_datasets(tmp_path: Path) -> None:
    cc = every_type_columns(0)
    write_hdf5([cc], tmp_path / "empty.h5")
    with h5py.File(tmp_path / "empty.h5", "r") as f:
        g = f["every"]
        assert g.attrs["rows"] == 0
        assert g["d"].shape == (0,) and g["d"].dtype == np.float64
        assert h5py.check_string_dtype(g["s"].dtype).encoding == "utf-8"
        assert h5py.check_enum_dtype(g["e"].dtype) is not None
        assert g["maybe.valid"].shape == (0,)
    ch = read_hdf5(tmp_path / "empty.h5").every
    assert ch.rows == 0 and len(ch.signal["d"]) == 0 and ch.time.dtype == "datetime64[ns]"


def test_channels_keep_their_own_time_vectors(tmp_path: Path) -> None:
    fast = simple_columns(
        "fast", {"x": np.arange(1000, dtype=np.float64)}, rx_time=T0 + np.arange(1000) * 10**6
    )
    slow = simple_columns(
        "slow",
        {"t": np.arange(3, dtype=np.int64) * 1000 + T0 // 10**6, "y": np.arange(3, dtype=np.int32)},
        rx_time=T0 + np.arange(3) * 10**9,
        time_field="t",
        time_unit="ms",
    )
    write_hdf5([fast, slow], tmp_path / "two.h5", compression="lzf")
    with h5py.File(tmp_path / "two.h5", "r") as f:
        assert f["fast/rx_time"].shape == (1000,) and f["slow/rx_time"].shape == (3,)
        assert list(f.attrs["channels"]) == ["fast", "slow"]
        assert f["slow"].attrs["time_unit"] == "ms"
    s = read_hdf5(tmp_path / "two.h5")
    assert len(s.fast.time) == 1000 and len(s.slow.time) == 3
    assert s.slow.time[1] == np.datetime64(T0 // 10**6 + 1000, "ms")
    assert s.fast.x.t[999] == np.datetime64(T0 + 999 * 10**6, "ns")


def test_appending_parts_of_a_channel(tmp_path: Path) -> None:
    whole = every_type_columns(9)
    parts = [every_type_columns(9)] * 3
    with HDF5Writer(tmp_path / "parts.h5") as out:
        for part in parts:
            out.write(part)
    ch = read_hdf5(tmp_path / "parts.h5").every
    assert ch.rows == 27
    np.testing.assert_array_equal(ch.signal["d"][9:18], whole.columns["d"].values)
    assert list(ch.signal["s"][18:]) == list(whole.columns["s"].values)
    np.testing.assert_array_equal(ch.signal["maybe"].valid[:9], whole.columns["maybe"].valid)
    assert ch.signal["samples"][20].tolist() == whole.columns["samples"].values[2].tolist()


def test_writes_to_a_seekable_file_object(tmp_path: Path) -> None:
    cc = every_type_columns()
    with tempfile.TemporaryFile() as f:
        write_hdf5([cc], f, compression="gzip", compression_opts=6)
        f.seek(0)
        data = f.read()
    s = read_hdf5(io.BytesIO(data))
    assert list(s.every.signal["s"]) == list(cc.columns["s"].values)
    with h5py.File(io.BytesIO(data), "r") as h5:
        assert h5["every/d"].compression_opts == 6


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        (None, Compression()),
        ("none", Compression()),
        ("lzf", Compression("lzf")),
        ("gzip", Compression("gzip", 4)),
        ("GZIP:9", Compression("gzip", 9)),
        ("gzip:0", Compression("gzip", 0)),
    ],
)
def test_compression_settings(spec: str | None, parsed: Compression) -> None:
    assert Compression.parse(spec) == parsed
    assert Compression.parse(str(parsed)) == parsed


@pytest.mark.parametrize("spec", ["zstd", "gzip:10", "gzip:x", "lzf:3", "none:1"])
def test_bad_compression_settings_say_why(spec: str) -> None:
    with pytest.raises(CompressionError, match="expected none, lzf, gzip"):
        Compression.parse(spec)


def test_not_a_set_file_is_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(ValueError, match="not a SpeedData set"):
        read_hdf5(tmp_path / "other.h5")


@pytest.mark.parametrize("level", [1, 6])
def test_gzip_chunks_made_on_threads_read_as_hdf5s_own(tmp_path: Path, level: int) -> None:
    """Several chunks, a partial last one, and an append that completes it (rows kept back):
    plain h5py reads the values; a chunk holds what HDF5's filters would store (the same
    bytes at level 6, zlib's; at level 1 ISA-L's stream of the same shuffled bytes)."""
    n = 300_001  # 131072-row chunks of float64: 3 chunks, the last one partial
    rng = np.random.default_rng(7)
    cc = simple_columns(
        "c",
        {"x": rng.random(n), "i": np.arange(n, dtype=np.int32), "ok": np.arange(n) % 3 == 0},
        rx_time=np.arange(n, dtype=np.int64),
    )
    with HDF5Writer(tmp_path / "threads.h5", compression=f"gzip:{level}") as out:
        out.write(cc)
        out.write(cc)  # appended at row 300001: completes the tail of the first write
    with h5py.File(tmp_path / "threads.h5", "r") as f:
        x = f["c/x"]
        assert x.compression == "gzip" and x.compression_opts == level and x.shuffle
        assert x.id.get_num_chunks() == 5
        np.testing.assert_array_equal(x[()], np.tile(cc.columns["x"].values, 2))
        np.testing.assert_array_equal(f["c/i"][()], np.tile(cc.columns["i"].values, 2))
        np.testing.assert_array_equal(f["c/ok"][()], np.tile(cc.columns["ok"].values, 2))
        _, threaded = x.id.read_direct_chunk((0,))
    with h5py.File(tmp_path / "own.h5", "w") as f:
        own = f.create_dataset(
            "x", data=cc.columns["x"].values, chunks=(131072,), compression="gzip",
            compression_opts=level, shuffle=True,
        )  # fmt: skip
        _, hdf5s = own.id.read_direct_chunk((0,))
    assert zlib.decompress(threaded) == zlib.decompress(hdf5s)
    if level == 6:
        assert threaded == hdf5s
    else:
        assert len(threaded) < 1.1 * len(hdf5s)
