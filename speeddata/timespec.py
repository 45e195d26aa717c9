"""Times and durations as users write them, to integer nanoseconds since the Unix epoch (UTC).

What the pivot's ``start``/``end``/``duration``, ``sdctl export`` and ``Client.export`` take:

- **times** (:func:`parse_time`): ISO 8601 calendar dates and times, extended or basic
  (``2026-12-01T12:00:00.123456789Z``, ``20261201T120000Z``, ``2026-12-01 12:00``,
  ``2026-12-01``), with ``Z`` or an offset (``+01:00``, ``+0100``, ``+01``); a time without one is
  UTC. Fractions of a second keep every digit down to the nanosecond (more digits are
  truncated). Also ``now`` and times relative to it: ``now-30s``, ``now-5m``, ``now-1h30m``,
  ``now-2d``, ``now-PT1H``, ``now+500ms``.
- **durations** (:func:`parse_duration`): the ISO 8601 grammar ``PnYnMnWnDTnHnMnS`` (``PT0.5S``,
  ``PT1H30M``, ``P1D``, ``P1W``, ``P1Y2M``; a fraction, with ``.`` or ``,``, on any component
  but years and months), its alternative form ``PYYYY-MM-DDThh:mm:ss``, and the short form of
  relative times (``30s``, ``1h30m``, ``250ms``). Days are 24 hours (UTC has no daylight
  saving); years and months are calendar steps from the time they are added to (a month after
  31 January is the last day of February), which is why :func:`end_of` takes the start.

Every problem is a :class:`TimeSpecError` whose message says what was expected.

Why not a library: ``isodate``, ``aniso8601`` and ``ciso8601`` all produce ``datetime`` and
``timedelta``, whose resolution is the microsecond; archive times are nanoseconds, and an
export boundary must not move by a rounding. The grammar is small enough to keep here, exact."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

NS_PER_S = 1_000_000_000
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_LENGTH = 64
"""Longer times and durations are refused before they are read."""

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
}
_NUMBER = r"\d+(?:[.,]\d+)?"
_SHORT_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|min|s|m|h|d|w)", re.IGNORECASE)
_SHORT = re.compile(rf"(?:{_NUMBER}(?:ns|us|µs|ms|min|s|m|h|d|w))+", re.IGNORECASE)

_ISO_DURATION = re.compile(
    rf"""P(?!$)
    (?:(?P<Y>\d+)Y)?
    (?:(?P<M>\d+)M)?
    (?:(?P<W>{_NUMBER})W)?
    (?:(?P<D>{_NUMBER})D)?
    (?:T(?=\d)
        (?:(?P<h>{_NUMBER})H)?
        (?:(?P<m>{_NUMBER})M)?
        (?:(?P<s>{_NUMBER})S)?
    )?""",
    re.VERBOSE | re.IGNORECASE,
)
_ALT_DURATION = re.compile(
    r"P(?P<Y>\d{4})-?(?P<M>\d{2})-?(?P<D>\d{2})T(?P<h>\d{2}):?(?P<m>\d{2}):?(?P<s>\d{2}(?:[.,]\d+)?)",
    re.IGNORECASE,
)

_DATETIME = re.compile(
    r"""(?P<year>\d{4})(?P<dash>-?)(?P<month>\d{2})(?P=dash)(?P<day>\d{2})
    (?:[Tt\ ]
        (?P<hour>\d{2})
        (?:(?P<colon>:?)(?P<minute>\d{2})
            (?:(?P=colon)(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        )?
        (?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    )?""",
    re.VERBOSE,
)
_RELATIVE = re.compile(r"now\s*(?:(?P<sign>[+-])\s*(?P<amount>\S.*))?", re.IGNORECASE)

TIME_HELP = "ISO 8601 (2026-12-01T12:00:00Z, an offset or none for UTC), now, or now-30s / now-PT1H"
DURATION_HELP = "an ISO 8601 duration (PT30S, PT1H30M, P1D) or 30s / 5m / 1h30m"


class TimeSpecError(ValueError):
    """A time or duration that cannot be read; the message says why and what would do."""


@dataclass(frozen=True)
class Duration:
    """A parsed duration: calendar ``months`` (from years and months) and exact ``ns``."""

    months: int = 0
    ns: int = 0

    def add_to(self, t_ns: int, sign: int = 1) -> int:
        """``t_ns`` moved by this duration (``sign=-1``: back); months step the calendar."""
        if self.months:
            t_ns = _add_months(t_ns, sign * self.months)
        return t_ns + sign * self.ns

    def is_zero(self) -> bool:
        return self.months == 0 and self.ns == 0


def now_ns() -> int:
    return time.time_ns()


def parse_time(text: str, now: int | None = None) -> int:
    """``text`` as integer ns since the epoch (see the module doc); ``now`` is the time that
    ``now`` means (default: the clock)."""
    spec = _bounded(text, "time")
    if not spec:
        raise TimeSpecError(f"empty time; expected {TIME_HELP}")
    relative = _RELATIVE.fullmatch(spec)
    if relative:
        t = now_ns() if now is None else now
        if relative["sign"]:
            step = parse_duration(relative["amount"].strip(), allow_zero=True)
            t = step.add_to(t, -1 if relative["sign"] == "-" else 1)
        return _checked_range(t, spec)
    match = _DATETIME.fullmatch(spec)
    if match is None:
        raise TimeSpecError(f"bad time {text!r}: expected {TIME_HELP}")
    return _checked_range(_datetime_ns(match, text), spec)


def parse_duration(text: str, *, allow_zero: bool = False) -> Duration:
    """``text`` as a :class:`Duration` (see the module doc); zero only with ``allow_zero``."""
    spec = _bounded(text, "duration")
    if not spec:
        raise TimeSpecError(f"empty duration; expected {DURATION_HELP}")
    if spec[:1] in "+-":
        raise TimeSpecError(f"bad duration {text!r}: a duration has no sign")
    duration = _iso_duration(spec) if spec[:1] in "pP" else _short_duration(spec)
    if duration is None:
        raise TimeSpecError(f"bad duration {text!r}: expected {DURATION_HELP}")
    if duration.is_zero() and not allow_zero:
        raise TimeSpecError(f"bad duration {text!r}: it must be longer than zero")
    return duration


def end_of(start_ns: int, duration: str | Duration) -> int:
    """The end of the range of ``duration`` from ``start_ns``."""
    d = parse_duration(duration) if isinstance(duration, str) else duration
    return _checked_range(d.add_to(start_ns), f"{format_ns(start_ns)} + {duration}")


def time_range(
    start: str, end: str | None = None, duration: str | None = None, now: int | None = None
) -> tuple[int, int]:
    """``[start, end)`` in ns from a start and exactly one of ``end`` or ``duration``; ``now``
    is read once, so ``start=now-1m&end=now`` is exactly a minute."""
    if (end is None) == (duration is None):
        raise TimeSpecError("give exactly one of end or duration")
    t = now_ns() if now is None else now
    start_ns = parse_time(start, t)
    end_ns = parse_time(end, t) if end is not None else end_of(start_ns, duration or "")
    if end_ns <= start_ns:
        raise TimeSpecError(
            f"the end ({format_ns(end_ns)}) must be after the start ({format_ns(start_ns)})"
        )
    return start_ns, end_ns


def format_ns(t_ns: int) -> str:
    """``t_ns`` as ISO 8601 UTC with nine fractional digits (``2026-12-01T12:00:00.000000000Z``)."""
    seconds, fraction = divmod(t_ns, NS_PER_S)
    stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


# -- internals --------------------------------------------------------------------------------


def _bounded(text: str, what: str) -> str:
    spec = text.strip()
    if len(spec) > MAX_LENGTH:
        raise TimeSpecError(f"bad {what}: longer than {MAX_LENGTH} characters")
    return spec


def _fraction_ns(number: str, unit_ns: int) -> int:
    """``number`` (digits, maybe with a ``.`` or ``,`` fraction) times ``unit_ns``, exactly
    (truncated below a nanosecond)."""
    whole, _, fraction = number.replace(",", ".").partition(".")
    value = int(whole) * unit_ns
    if fraction:
        value += int(fraction) * unit_ns // 10 ** len(fraction)
    return value


def _short_duration(spec: str) -> Duration | None:
    if not _SHORT.fullmatch(spec):
        return None
    ns = sum(_fraction_ns(n, _UNITS_NS[u.lower()]) for n, u in _SHORT_PART.findall(spec))
    return Duration(0, ns)


def _iso_duration(spec: str) -> Duration | None:
    match = _ISO_DURATION.fullmatch(spec) or _ALT_DURATION.fullmatch(spec)
    if match is None:
        return None
    parts = match.groupdict()
    months = int(parts.get("Y") or 0) * 12 + int(parts.get("M") or 0)
    ns = 0
    for name, unit in (("W", "w"), ("D", "d"), ("h", "h"), ("m", "m"), ("s", "s")):
        if parts.get(name):
            ns += _fraction_ns(parts[name], _UNITS_NS[unit])
    return Duration(months, ns)


def _datetime_ns(match: re.Match[str], text: str) -> int:
    g = match.groupdict()
    try:
        stamp = datetime(
            int(g["year"]),
            int(g["month"]),
            int(g["day"]),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
            tzinfo=_offset(g["offset"]),
        )
    except ValueError as e:
        raise TimeSpecError(f"bad time {text!r}: {e}") from None
    fraction = g["fraction"] or ""
    sub = int(fraction[:9].ljust(9, "0")) if fraction else 0
    delta = stamp - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + sub


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimeSpecError(f"bad UTC offset {text!r}: hours 00-23, minutes 00-59")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _add_months(t_ns: int, months: int) -> int:
    """``t_ns`` moved by calendar months (the day clamped to the month's last)."""
    seconds, sub = divmod(t_ns, NS_PER_S)
    try:
        stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        index = stamp.year * 12 + stamp.month - 1 + months
        year, month = divmod(index, 12)
        day = min(stamp.day, calendar.monthrange(year, month + 1)[1])
        moved = stamp.replace(year=year, month=month + 1, day=day)
    except (OverflowError, ValueError):
        raise TimeSpecError("the time is out of range (years 1678 to 2261)") from None
    delta = moved - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + sub


def _checked_range(t_ns: int, spec: str) -> int:
    if not INT64_MIN <= t_ns <= INT64_MAX:
        raise TimeSpecError(
            f"time {spec!r} is out of range: nanoseconds since 1970 must fit 64 bits "
            "(years 1678 to 2261)"
        )
    return t_ns
