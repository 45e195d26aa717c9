"""The CLI's view of the bus: a subscriber that first makes sure the bus answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable

from speeddata import events
from speeddata.bus import Event, Gap, Subscriber, topic_filters, topic_matches, unlisted_filters
from speeddata.cli._common import CliError
from speeddata.config import Settings


def bus_events(
    settings: Settings,
    topics: str | Iterable[str],
    timeout: float = 0.0,
    on_gap: Callable[[Gap], None] | None = None,
    on_close: Callable[[Subscriber], None] | None = None,
) -> Generator[Event | None, None, None]:
    """Events of ``topics`` (whole segments), once the bus proved it is there; ``None`` every
    ~0.2 s of silence so callers can check their deadlines. Ends after ``timeout`` seconds
    (0: never). A topic no listed topic can match, or a bus that does not answer within
    ``bus.connect_timeout_s``, is a :class:`CliError`. ``on_gap`` hears each loss as the
    subscriber finds it; ``on_close`` gets the subscriber when the events end, however they
    end (its loss counters are final then)."""
    try:
        wanted = topic_filters(topics)
    except ValueError as e:
        raise CliError(str(e)) from None
    unlisted = unlisted_filters(wanted)
    if unlisted:
        raise CliError(
            f"no bus topic matches {unlisted[0]!r} (topics are listed in proto/topics.yaml: "
            f"{_first_segments()})"
        )
    connect_s = _connect_timeout(settings)
    with Subscriber([*wanted, "bus.status"], settings, on_gap=on_gap) as sub:
        try:
            early = _until_bus_answers(sub, connect_s)
            end = time.monotonic() + timeout if timeout else None
            yield from (e for e in early if topic_matches(e.topic, wanted))
            while end is None or time.monotonic() < end:
                left = 0.2 if end is None else max(0.0, min(0.2, end - time.monotonic()))
                event = sub.recv(left)
                if event is None or topic_matches(event.topic, wanted):
                    yield event
        finally:
            if on_close is not None:
                on_close(sub)


def _first_segments() -> str:
    """``relay.status, relay.file, ..., bus.status``: what the listed topics start with."""
    fixed = (spec.pattern.split("<", 1)[0].removesuffix(".") for spec in events.topics())
    return ", ".join(dict.fromkeys(fixed))


def _connect_timeout(settings: Settings) -> float:
    value = settings.bus.connect_timeout_s
    if not value > 0:  # NaN too
        raise CliError(f"bus.connect_timeout_s must be a number > 0, not {value!r}")
    return value


def _until_bus_answers(sub: Subscriber, connect_s: float) -> list[Event]:
    """Receives until the first ``bus.status``; returns what came, that one included."""
    early: list[Event] = []
    deadline = time.monotonic() + connect_s
    while True:
        event = sub.recv(max(0.0, deadline - time.monotonic()))
        if event is None:
            raise CliError(
                f"cannot reach the bus at {sub.endpoint} (no bus.status within {connect_s:g} s, "
                "bus.connect_timeout_s; is `sdctl up` running?)"
            )
        early.append(event)
        if event.topic == "bus.status":
            return early
