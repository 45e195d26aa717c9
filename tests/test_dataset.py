"""speeddata.dataset: the original's access forms, names that are ambiguous or missing, reprs,
Jupyter completion, Signal behaviour, to_pandas and time arguments (sets read from HDF5 files
written by speeddata.hdf5 from hand-made columns)."""

from __future__ import annotations

import pickle
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import speeddata
from speeddata.dataset import AmbiguousName, Set, Signal, UnknownName, read_hdf5, to_ns
from speeddata.hdf5 import write_hdf5
from tests.hdf5tools import T0, every_type_columns, simple_columns

N = 40


@pytest.fixture
def two(tmp_path: Path) -> Set:
    """``example`` (device time in ns, 40 rows) and ``other`` (no time field, 4 rows); both
    have ``sine_wave``, only ``example`` has ``ramp``, only ``other`` has ``level``."""
    k = np.arange(N)
    example = simple_columns(
        "example",
        {
            "time": T0 + k * 10**6,
            "sine_wave": np.sin(2 * np.pi * k / 20),
            "ramp": np.linspace(-1, 1, N),
            "counter": k.astype(np.int32),
        },
        rx_time=T0 + k * 10**6 + 777,
        time_field="time",
        time_unit="ns",
    )
    other = simple_columns(
        "other",
        {"sine_wave": np.zeros(4), "level": np.arange(4, dtype=np.int64)},
        rx_time=T0 + np.arange(4) * 10**9,
    )
    path = tmp_path / "two.h5"
    write_hdf5([example, other], path, start_ns=T0, end_ns=T0 + 5 * 10**9, clock="device")
    return read_hdf5(path)


def test_the_original_access_forms(two: Set) -> None:
    sine = two.channel["example"].signal["sine_wave"]
    assert isinstance(sine, Signal) and isinstance(sine, np.ndarray)
    assert two.channel["example"].sine_wave is sine
    assert two.example.sine_wave is sine
    assert two["example.sine_wave"] is sine and two.example["sine_wave"] is sine
    assert two.ramp is two.example.ramp  # one channel only has it
    assert two.level is two.other.level
    assert sine.name == "sine_wave" and sine.channel == "example"
    np.testing.assert_allclose(sine, np.sin(2 * np.pi * np.arange(N) / 20))


def test_channel_time_is_device_time_else_rx_time(two: Set) -> None:
    t = two.example.time
    assert t.dtype == np.dtype("datetime64[ns]")
    assert t[3] == np.datetime64(T0 + 3 * 10**6, "ns")
    assert two.example.signal["time"][3] == T0 + 3 * 10**6  # the raw field stays reachable
    assert two.other.time[1] == np.datetime64(T0 + 10**9, "ns")  # no time field: rx_time
    assert two.example.sine_wave.t is t and two.example.sine_wave.time is t
    np.testing.assert_array_equal(two.example.rx_time, T0 + np.arange(N) * 10**6 + 777)


def test_ambiguous_signal_names_list_the_candidates(two: Set) -> None:
    with pytest.raises(AmbiguousName) as info:
        two.sine_wave  # noqa: B018
    message = str(info.value)
    assert "example.sine_wave" in message and "other.sine_wave" in message
    assert isinstance(info.value, AttributeError) and isinstance(info.value, KeyError)
    with pytest.raises(KeyError, match="ambiguous"):
        two["sine_wave"]
    assert not hasattr(two, "sine_wave")


def test_unknown_names_list_what_there_is(two: Set) -> None:
    with pytest.raises(UnknownName, match="no channel or signal 'nope'; there are: example"):
        two["nope"]
    with pytest.raises(KeyError, match="no channel 'nope'"):
        two.channel["nope"]
    with pytest.raises(KeyError, match="no signal of channel example 'x'.*sine_wave"):
        two.example["x"]
    with pytest.raises(KeyError, match="ramp"):
        two.other.signal["ramp"]
    with pytest.raises(KeyError):
        two["example.nope"]
    with pytest.raises(AttributeError):  # attributes: Python's own message
        two.example.x  # noqa: B018


def test_completion_names(two: Set) -> None:
    names = dir(two)
    assert {"example", "other", "ramp", "level", "to_pandas", "channel"} <= set(names)
    assert "sine_wave" not in names  # ambiguous: not offered
    assert {"sine_wave", "ramp", "counter", "time", "to_pandas"} <= set(dir(two.example))
    assert "example.sine_wave" in two._ipython_key_completions_()
    assert two.channel._ipython_key_completions_() == ["example", "other"]
    assert two.example._ipython_key_completions_() == ["time", "sine_wave", "ramp", "counter"]
    assert two.example.signal._ipython_key_completions_() == two.example.signals


def test_nested_record_fields_as_attributes(tmp_path: Path) -> None:
    write_hdf5([every_type_columns()], tmp_path / "e.h5")
    ch = read_hdf5(tmp_path / "e.h5").every
    assert ch.pos.x is ch.signal["pos.x"]
    assert ch.pos.x.units == "m"
    assert {"x", "label"} <= set(dir(ch.pos)) and "pos" in dir(ch)
    assert "x" in repr(ch.pos)


def test_reprs(two: Set) -> None:
    text = repr(two)
    assert text.startswith("Set: 2 channels, 44 rows, range [2023-11-14T22:13:20")
    assert "example: 40 rows, 2023-11-14T22:13:20.000Z .. 2023-11-14T22:13:20.039Z" in text
    assert "signals: time, sine_wave, ramp, counter" in text
    ch = repr(two.example)
    assert ch.startswith("Channel example: 4 signals, 40 rows, 2023-11-14T22:13:20.000Z")
    assert "(device time 'time')" in ch and "  counter: int32" in ch
    assert "(rx_time)" in repr(two.other)
    sig = repr(two.example.ramp)
    assert sig.startswith("Signal example.ramp: float64, 40 values, 2023-11-14T22:13:20.000Z")
    assert "-1." in sig


def test_signals_keep_time_through_indexing_and_arithmetic(two: Set) -> None:
    sine = two.example.sine_wave
    positive = sine[sine > 0.5]
    assert isinstance(positive, Signal) and positive.t is not None
    assert len(positive) == len(positive.t)
    np.testing.assert_array_equal(positive.t, two.example.time[sine.view(np.ndarray) > 0.5])
    doubled = sine * 2
    assert isinstance(doubled, Signal) and doubled.t is sine.t and doubled.name == "sine_wave"
    assert isinstance(sine.mean(), float) and isinstance(np.max(sine), float)
    assert not isinstance(sine.values, Signal)
    window = sine[5:10]
    np.testing.assert_array_equal(window.t, two.example.time[5:10])
    again = pickle.loads(pickle.dumps(two))
    assert again.example.ramp.name == "ramp" and again.channels == ["example", "other"]
    with pytest.raises(AmbiguousName):
        again.sine_wave  # noqa: B018
    back = pickle.loads(pickle.dumps(sine))
    assert back.name == "sine_wave" and back.channel == "example"
    np.testing.assert_array_equal(back.t, sine.t)


def test_nullable_signals_carry_their_mask(tmp_path: Path) -> None:
    write_hdf5([every_type_columns()], tmp_path / "e.h5")
    maybe = read_hdf5(tmp_path / "e.h5").every.maybe
    assert maybe.valid is not None and list(maybe.valid) == [i % 3 != 0 for i in range(7)]
    assert list(maybe[1:3].valid) == [True, True]
    assert "3 null" in repr(maybe)


def test_channel_to_pandas(two: Set) -> None:
    df = two.example.to_pandas()
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "time"
    assert list(df.columns) == ["rx_time", "sine_wave", "ramp", "counter"]
    assert df.index[2] == pd.Timestamp(T0 + 2 * 10**6, unit="ns")
    assert df["rx_time"].iloc[0] == pd.Timestamp(T0 + 777, unit="ns")
    np.testing.assert_allclose(df["ramp"].to_numpy(), np.linspace(-1, 1, N))
    assert df["counter"].dtype == np.int32
    other = two.other.to_pandas()
    assert other.index.name == "rx_time" and list(other.columns) == ["sine_wave", "level"]


def test_set_to_pandas_is_a_frame_per_channel(two: Set) -> None:
    frames = two.to_pandas()
    assert list(frames) == ["example", "other"]
    assert len(frames["example"]) == N and len(frames["other"]) == 4


def test_to_pandas_of_every_type(tmp_path: Path) -> None:
    write_hdf5([every_type_columns()], tmp_path / "e.h5")
    df = read_hdf5(tmp_path / "e.h5").every.to_pandas()
    assert df["e"].dtype == "category" and list(df["e"][:3]) == ["low", "mid", "high"]
    assert df["maybe"].dtype == "Int64" and df["maybe"].isna().tolist()[:3] == [True, False, False]
    assert df["maybe_e"].isna().tolist()[:2] == [True, False]
    assert df["maybe_s"].isna().tolist()[:2] == [True, False] and df["maybe_s"].iloc[1] == "v1"
    assert df["fx"].iloc[1] == bytes([1, 0, 1, 2])
    assert df["s"].iloc[2] == "日本2" and df["pos.x"].iloc[2] == 1.0


def test_exported_from_the_package() -> None:
    assert speeddata.read_hdf5 is read_hdf5 and speeddata.Set is Set
    assert callable(speeddata.read_avro)


def test_set_from_hdf5(tmp_path: Path) -> None:
    write_hdf5([every_type_columns()], tmp_path / "e.h5")
    s = Set.from_hdf5(tmp_path / "e.h5")
    assert s.channels == ["every"] and s.source == str(tmp_path / "e.h5")


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (None, None),
        (T0, T0),
        (np.int64(5), 5),
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20.000000001Z", T0 + 1),
        ("2023-11-14 22:13:20.5", T0 + 5 * 10**8),
        ("2023-11-14T23:13:20+01:00", T0),
        ("2023-11-14T23:13:20+0100", T0),
        ("2023-11-14", T0 - (22 * 3600 + 13 * 60 + 20) * 10**9),
        (datetime(2023, 11, 14, 22, 13, 20, 7, tzinfo=UTC), T0 + 7000),
        (datetime(2023, 11, 14, 22, 13, 20), T0),
        (datetime(2023, 11, 14, 17, 13, 20, tzinfo=timezone(timedelta(hours=-5))), T0),
        (np.datetime64(T0 + 3, "ns"), T0 + 3),
        (np.datetime64("2023-11-14T22:13:20"), T0),
    ],
)
def test_times_as_users_write_them(value: object, ns: int | None) -> None:
    assert to_ns(value) == ns  # type: ignore[arg-type]


def test_times_relative_to_now() -> None:
    hour_ago = to_ns("now-1h")
    assert hour_ago is not None and abs(hour_ago - (time.time_ns() - 3600 * 10**9)) < 60 * 10**9


@pytest.mark.parametrize("value", ["yesterday", "2023-13-01", "2023-11-14T25:00", True, 1.5])
def test_bad_times_say_why(value: object) -> None:
    with pytest.raises((ValueError, TypeError), match="time"):
        to_ns(value)  # type: ignore[arg-type]


def test_jupyter_completes_names_and_keys(two: Set) -> None:
    """IPython's own completer (as Jupyter runs it, default evaluation policy): attributes
    after ``s.`` and ``s.example.``, keys inside ``s.channel[``, ``s.example[`` and ``s[``."""
    completer = pytest.importorskip("IPython.core.completer")
    ipython = completer.IPCompleter(namespace={"s": two}, global_namespace={})

    def complete(text: str) -> set[str]:
        with completer.provisionalcompleter():
            return {c.text for c in ipython.completions(text, len(text))}

    assert {"example", "other", "ramp"} <= complete("s.")
    assert "sine_wave" not in complete("s.")
    assert complete("s.example.sin") == {"sine_wave"}
    assert complete("s.channel['ex") == {"example"}
    assert complete("s.example['ra") == {"ramp"}
    assert complete("s.example.signal['co") == {"counter"}
    assert "example.sine_wave" in complete("s['example.s")
