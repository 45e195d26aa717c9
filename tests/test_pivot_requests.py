"""The pivot's answers to every kind of request, in process, over an archive that a real relay
wrote (and no registry: the channel is known from its files alone, as a deleted channel is):
each bad request gets its 4xx with a reason in the one error shape, a range without data is a
200 with empty tables, limits are 413s naming the setting, and fuzzed query strings never get
a 5xx."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import h5py
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from services.pivot import create_app
from speeddata.config import Settings, load_settings
from speeddata.timespec import format_ns
from tests.pivottools import EVERY, STEP_US, T0_US, every_record
from tests.procs import Proc
from tests.relaytools import start_relay
from tests.system import free_tcp_port

N = 120
EXPORT = "/api/v1/pivot/export"
T0 = format_ns(T0_US * 1000)
ALL = {"channels": "every", "start": T0, "duration": "PT1S"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Path]:
    """A data dir whose archive holds ``every`` records 0..N-1 (in several files)."""
    data = tmp_path_factory.mktemp("pivot-requests") / "data"
    procs: list[Proc] = []
    try:
        relay = start_relay(procs, relay_binary, data, "--rotate-bytes=3000", schema=EVERY,
                            channel="every", time_field="t")  # fmt: skip
        from speeddata import Sender

        with Sender(EVERY, "127.0.0.1", relay.port) as sender:
            for k in range(0, N, 10):
                sender.send_many([every_record(i) for i in range(k, k + 10)])
        relay.wait_archived(N)
        relay.stop()
    finally:
        for p in procs:
            p.stop()
    yield data


def pivot_settings(data: Path, **pivot: Any) -> Settings:
    """Settings of the archive's data dir, with a registry that does not answer."""
    base = load_settings(data_dir=data)
    return base.override(registry={"port": free_tcp_port()}, pivot=pivot)


@pytest.fixture(scope="module")
def client(archive: Path) -> Iterator[TestClient]:
    with TestClient(create_app(pivot_settings(archive))) as c:
        yield c


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and isinstance(body["detail"], str), body
    for word in words:
        assert word in body["detail"], body


BAD = [
    ({}, 400, "malformed", "start is required"),
    ({"start": T0}, 400, "bad_time", "exactly one of end or duration"),
    ({**ALL, "end": T0}, 400, "bad_time", "exactly one"),
    ({"start": T0, "duration": "PT1S"}, 400, "malformed", "channels is required"),
    ({**ALL, "start": "yesterday"}, 400, "bad_time", "bad time 'yesterday'"),
    ({**ALL, "start": "2026-02-30T00:00:00Z"}, 400, "bad_time", "day is out of range"),
    ({**ALL, "start": "2026-12-01T12:00:00+25:00"}, 400, "bad_time", "offset"),
    ({**ALL, "start": "3000-01-01"}, 400, "bad_time", "out of range"),
    ({**ALL, "duration": "PT"}, 400, "bad_time", "bad duration 'PT'"),
    ({**ALL, "duration": "P1.5Y"}, 400, "bad_time", "bad duration"),
    ({**ALL, "duration": "PT0S"}, 400, "bad_time", "longer than zero"),
    ({**ALL, "duration": "-PT1S"}, 400, "bad_time", "no sign"),
    ({"channels": "every", "start": T0, "end": "2020-01-01"}, 400, "bad_time", "must be after"),
    ({**ALL, "start": "now-", "duration": "PT1S"}, 400, "bad_time", "bad time"),
    ({**ALL, "format": "xlsx"}, 400, "malformed", "bad format 'xlsx'"),
    ({**ALL, "time": "gps"}, 400, "malformed", "bad time 'gps'"),
    ({**ALL, "channels": "Every"}, 400, "malformed", "bad channel name 'Every'"),
    ({**ALL, "channels": "../etc"}, 400, "malformed", "bad channel name"),
    ({**ALL, "signals": "d"}, 400, "malformed", "channel.signal"),
    ({**ALL, "signals": "other.d"}, 400, "malformed", "channels does not list"),
    ({**ALL, "chanels": "every"}, 400, "malformed", "unknown parameter 'chanels'"),
    ({**ALL, "channels": "nosuch"}, 404, "unknown_channel", "unknown channel 'nosuch'"),
    ({**ALL, "channels": "every,nosuch"}, 404, "unknown_channel", "'nosuch'"),
    ({**ALL, "signals": "every.nosuch"}, 404, "unknown_signal", "no signal 'nosuch'"),
    ({**ALL, "signals": "every.r.z"}, 404, "unknown_signal", "no signal 'r.z'"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "status", "code", "words"), BAD)
def test_bad_requests_get_a_4xx_with_a_reason(
    client: TestClient, params: dict, status: int, code: str, words: str
) -> None:
    assert_error(client.get(EXPORT, params=params), status, code, words)


def test_a_single_valued_parameter_twice_is_a_400(client: TestClient) -> None:
    r = client.get(f"{EXPORT}?{urlencode(ALL)}&format=csv&format=hdf5")
    assert_error(r, 400, "malformed", "'format' is given more than once")
    assert_error(client.get("/api/v1/nothing"), 404, "not_found", "/api/v1/nothing")
    assert_error(client.post(EXPORT), 405, "method_not_allowed")


def test_limits_are_413s_naming_the_setting(archive: Path) -> None:
    small = pivot_settings(archive, max_channels=1, max_span_s=60.0, max_records=50)
    with TestClient(create_app(small)) as c:
        r = c.get(EXPORT, params={**ALL, "channels": "every,other"})
        assert_error(r, 413, "too_many_channels", "pivot.max_channels")
        assert r.json()["limit"] == "max_channels"
        assert_error(c.get(EXPORT, params={**ALL, "duration": "PT61S"}), 413, "range_too_long",
                     "pivot.max_span_s")  # fmt: skip
        assert_error(c.get(EXPORT, params=ALL), 413, "too_many_records", "pivot.max_records")
        assert c.get(EXPORT, params={**ALL, "duration": "PT0.01S"}).status_code == 200


def test_a_range_without_data_is_200_with_empty_tables(client: TestClient, tmp_path: Path) -> None:
    before = {"channels": "every", "start": "2001-01-01T00:00:00Z", "duration": "PT1H"}
    r = client.get(EXPORT, params=before)
    assert r.status_code == 200, r.text
    assert r.headers["X-SpeedData-Records"] == "0"
    assert r.headers["X-SpeedData-Channel-Records"] == "every=0"
    path = tmp_path / "empty.h5"
    path.write_bytes(r.content)
    with h5py.File(path) as f:
        assert f["every/rx_time"].shape == (0,) and f["every/d"].shape == (0,)
        assert "s" in f["every"] and "r.x" in f["every"]
    csv = client.get(EXPORT, params={**before, "format": "csv"})
    assert csv.status_code == 200
    assert csv.text.splitlines()[0].startswith('"rx_time","t","i"')
    assert len(csv.text.splitlines()) == 1


def test_a_channel_known_only_from_its_archive_exports(client: TestClient) -> None:
    """No registry answers: the files' headers describe the channel; signals pick columns and
    the time field comes along."""
    first, last = 10, 30
    start = format_ns((T0_US + first * STEP_US) * 1000)
    end = format_ns((T0_US + last * STEP_US) * 1000)
    params = {"channels": "every", "start": start, "end": end, "signals": "every.d,every.r",
              "format": "csv"}  # fmt: skip
    r = client.get(EXPORT, params=params)
    assert r.status_code == 200, r.text
    table = pa_csv.read_csv(io.BytesIO(r.content))
    assert table.column_names == ["rx_time", "t", "d", "r.x", "r.y"]
    assert table.column("d").to_pylist() == [every_record(i)["d"] for i in range(first, last)]
    assert table.column("r.y").to_pylist() == [f"r{i}" for i in range(first, last)]


VALUES = st.one_of(
    st.sampled_from(["now", "now-1h", "now-PT1M", T0, "PT1S", "P1D", "P1W", "1s", "every",
                     "every.d", "every.r", "csv", "hdf5", "parquet", "rx", "device", "", ",",
                     "2026-12-01T00:00:00.1234567891Z", "P99999999999Y", "now-99999999999d",
                     "PT0.0000000001S", "every,every", "every.r.x,every.t"]),
    st.text(max_size=40),
)  # fmt: skip
KEYS = st.one_of(
    st.sampled_from(["start", "end", "duration", "channels", "signals", "format", "time"]),
    st.text(max_size=10),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=8), raw=st.text(max_size=30))
def test_fuzzed_query_strings_never_get_a_5xx(client: TestClient, pairs: list, raw: str) -> None:
    loose = quote(raw, safe="=&%,+;")  # stray %, & and = left as they are
    for query in (urlencode(pairs), loose, urlencode(pairs) + "&" + loose):
        r = client.get(f"{EXPORT}?{query}")
        assert r.status_code < 500, (query, r.text)
        if r.status_code >= 400:
            body = r.json()
            assert set(body) >= {"error", "detail"}, body
