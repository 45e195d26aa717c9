"""speeddata.timespec: ISO 8601 times (nanoseconds kept), now-relative times, the ISO 8601
duration grammar, and one clear error for everything else."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speeddata.timespec import (
    INT64_MAX,
    INT64_MIN,
    Duration,
    TimeSpecError,
    format_ns,
    parse_duration,
    parse_time,
    time_range,
)

NOW = 1_796_126_400_123_456_789  # 2026-12-01T12:00:00.123456789Z
S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-12-01T12:00:00Z", 1_796_126_400 * S),
        ("2026-12-01T12:00:00.123456789Z", 1_796_126_400 * S + 123_456_789),
        ("2026-12-01T12:00:00,5Z", 1_796_126_400 * S + S // 2),
        ("2026-12-01T12:00:00.1234567891Z", 1_796_126_400 * S + 123_456_789),
        ("2026-12-01T12:00:00", 1_796_126_400 * S),
        ("2026-12-01 12:00", 1_796_126_400 * S),
        ("2026-12-01T12", 1_796_126_400 * S),
        ("2026-12-01", 1_796_083_200 * S),
        ("20261201T120000Z", 1_796_126_400 * S),
        ("20261201T120000.25+0100", (1_796_126_400 - 3600) * S + S // 4),
        ("2026-12-01T13:30:00+01:30", 1_796_126_400 * S),
        ("2026-12-01T07:00:00-05", 1_796_126_400 * S),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999999999Z", -1),
        ("now", NOW),
        (" NOW ", NOW),
        ("now-30s", NOW - 30 * S),
        ("now-5m", NOW - 300 * S),
        ("now-1h30m", NOW - 5400 * S),
        ("now-PT1H", NOW - 3600 * S),
        ("now+500ms", NOW + S // 2),
        ("now-1.5d", NOW - 129_600 * S),
        ("now - 2w", NOW - 14 * 86_400 * S),
        ("now-P1M", 1_793_534_400 * S + 123_456_789),  # 2026-11-01T12:00:00.123456789Z
    ],
)
def test_times(text: str, ns: int) -> None:
    assert parse_time(text, NOW) == ns


@pytest.mark.parametrize(
    ("text", "months", "ns"),
    [
        ("PT0.5S", 0, S // 2),
        ("PT1H30M", 0, 5400 * S),
        ("P1D", 0, 86_400 * S),
        ("P1W", 0, 7 * 86_400 * S),
        ("P2DT3H4M5.000000006S", 0, (2 * 86_400 + 3 * 3600 + 4 * 60 + 5) * S + 6),
        ("P1Y2M", 14, 0),
        ("P1M", 1, 0),
        ("PT1M", 0, 60 * S),
        ("P0,5D", 0, 43_200 * S),
        ("pt10s", 0, 10 * S),
        ("P0001-02-03T04:05:06.5", 14, (3 * 86_400 + 4 * 3600 + 5 * 60 + 6) * S + S // 2),
        ("PT0.000000001S", 0, 1),
        ("30s", 0, 30 * S),
        ("250ms", 0, S // 4),
        ("1h30m", 0, 5400 * S),
        ("10us", 0, 10_000),
        ("7ns", 0, 7),
    ],
)
def test_durations(text: str, months: int, ns: int) -> None:
    assert parse_duration(text) == Duration(months, ns)


def test_months_are_calendar_steps_from_the_start() -> None:
    start, end = time_range("2026-01-31T10:00:00Z", duration="P1M")
    assert format_ns(end) == "2026-02-28T10:00:00.000000000Z"
    start, end = time_range("2024-02-29T00:00:00Z", duration="P1Y")
    assert format_ns(end) == "2025-02-28T00:00:00.000000000Z"


def test_now_is_read_once_for_a_range() -> None:
    assert time_range("now-1m", end="now", now=NOW) == (NOW - 60 * S, NOW)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: parse_time("yesterday"), "bad time 'yesterday': expected ISO 8601"),
        (lambda: parse_time(""), "empty time"),
        (lambda: parse_time("2026-13-01"), "month must be in 1..12"),
        (lambda: parse_time("2026-12-01T24:00:00Z"), "hour must be in 0..23"),
        (lambda: parse_time("2026-12-01T12:00:00+24:00"), "bad UTC offset"),
        (lambda: parse_time("2300-01-01"), "out of range"),
        (lambda: parse_time("now-x"), "bad duration 'x'"),
        (lambda: parse_time("2" * 100), "longer than 64 characters"),
        (lambda: parse_duration("P"), "bad duration 'P'"),
        (lambda: parse_duration("PT"), "bad duration 'PT'"),
        (lambda: parse_duration("P1.5M"), "bad duration"),
        (lambda: parse_duration("PT1H2D"), "bad duration"),
        (lambda: parse_duration("-PT1S"), "no sign"),
        (lambda: parse_duration("PT0S"), "longer than zero"),
        (lambda: time_range("now"), "exactly one of end or duration"),
        (lambda: time_range("now", end="now-1s", duration="PT1S"), "exactly one"),
        (lambda: time_range("now", end="now-1s"), "must be after the start"),
        (lambda: time_range("2262-04-11", duration="P1Y"), "out of range"),
    ],
)
def test_errors_say_why(call, words: str) -> None:
    with pytest.raises(TimeSpecError, match=None) as e:
        call()
    assert words in str(e.value)


@given(st.integers(INT64_MIN, INT64_MAX))
def test_format_and_parse_round_trip(ns: int) -> None:
    assert parse_time(format_ns(ns)) == ns


@given(st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2261, 12, 31)))
def test_agrees_with_datetime_to_the_microsecond(when: datetime) -> None:
    expected = (when.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    assert parse_time(when.isoformat()) == expected * 1000


@given(st.text(max_size=70))
def test_anything_else_is_a_timespec_error(text: str) -> None:
    for parse in (parse_time, parse_duration):
        with contextlib.suppress(TimeSpecError):
            parse(text)
