"""The CLI's view of the bus: a subscriber that first makes sure the bus answers."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from speeddata.bus import Event, Subscriber, topic_filters, topic_matches
from speeddata.cli._common import CliError
from speeddata.config import Settings

CONNECT_TIMEOUT_S = 3.0
"""How long to wait for the proxy's ``bus.status`` (cached, so it comes at once when the bus
runs; else within its 1 s beat) before saying the bus cannot be reached."""


def bus_events(
    settings: Settings, topics: str | Iterable[str], timeout: float = 0.0
) -> Iterator[Event | None]:
    """Events of ``topics`` (whole segments), once the bus proved it is there; ``None`` every
    ~0.2 s of silence so callers can check their deadlines. Ends after ``timeout`` seconds
    (0: never). A bus that does not answer is a :class:`CliError`."""
    try:
        wanted = topic_filters(topics)
    except ValueError as e:
        raise CliError(str(e)) from None
    with Subscriber([*wanted, "bus.status"], settings) as sub:
        early = _until_bus_answers(sub)
        end = time.monotonic() + timeout if timeout else None
        yield from (e for e in early if topic_matches(e.topic, wanted))
        while end is None or time.monotonic() < end:
            left = 0.2 if end is None else max(0.0, min(0.2, end - time.monotonic()))
            event = sub.recv(left)
            if event is None or topic_matches(event.topic, wanted):
                yield event


def _until_bus_answers(sub: Subscriber) -> list[Event]:
    """Receives until the first ``bus.status``; returns what came, that one included."""
    early: list[Event] = []
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        event = sub.recv(max(0.0, deadline - time.monotonic()))
        if event is None:
            raise CliError(
                f"cannot reach the bus at {sub.endpoint} "
                f"(no bus.status within {CONNECT_TIMEOUT_S:g} s; is `sdctl up` running?)"
            )
        early.append(event)
        if event.topic == "bus.status":
            return early
