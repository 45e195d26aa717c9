"""A subscriber's loss count from (source, seq) gaps (speeddata._bus_seq), and which topic
filters can match a listed topic. Pure bookkeeping; tests/test_bus.py has the real proxy."""

from __future__ import annotations

import pytest

from speeddata._bus_seq import Gap, SeqTracker, Verdict, gap_checked_services
from speeddata.bus import topic_filters, unlisted_filters

RELAY = "relay/example/100-1"
BUS = "bus/proxy/7-1"
INGEST = "ingest/supervisor/9-1"


def feed(tracker: SeqTracker, events: list[tuple[str, str, int]]) -> list[Verdict | Gap]:
    """Observes ``(topic, source, seq)`` in order; returns each gap found, else each verdict."""
    out: list[Verdict | Gap] = []
    for topic, source, seq in events:
        verdict, gap = tracker.observe(topic, source, seq)
        out.append(gap if gap is not None else verdict)
    return out


def test_a_jump_is_a_gap_with_its_exact_range() -> None:
    t = SeqTracker([""])
    got = feed(t, [("data.example", RELAY, s) for s in (1, 2, 3, 7, 8, 10)])
    assert got[3] == Gap(RELAY, 4, 6) and got[3].lost == 3
    assert got[5] == Gap(RELAY, 9, 9)
    assert (t.lost, t.gaps, t.lost_by_source()) == (4, 2, {RELAY: 4})


def test_joining_mid_stream_and_a_restarted_source_are_not_losses() -> None:
    t = SeqTracker([""])
    feed(t, [("data.example", RELAY, s) for s in (5000, 5001)])  # first heard at 5000
    restarted = "relay/example/101-2"
    feed(t, [("data.example", restarted, s) for s in (1, 2, 3)])  # new process: from 1 again
    assert (t.lost, t.gaps) == (0, 0)


def test_exact_repeats_are_duplicates_not_gaps() -> None:
    t = SeqTracker([""])
    got = feed(t, [("bus.status", BUS, 1), ("bus.status", BUS, 2), ("bus.status", BUS, 2)])
    assert got == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]
    assert t.lost == 0


def test_a_replay_ahead_of_the_live_stream_is_not_a_gap() -> None:
    # A joiner gets the cached relay.status (seq 40), then the relay's live data events, which
    # went on counting while nobody of this subscriber's kind listened (seq 90 on).
    t = SeqTracker([""])
    feed(t, [("relay.status.example", RELAY, 40), ("data.example", RELAY, 90)])
    assert t.lost == 0
    got = feed(t, [("data.example", RELAY, 91), ("data.example", RELAY, 95)])
    assert got[1] == Gap(RELAY, 92, 94), "live from seq 90 on: jumps count"


def test_a_burst_of_replays_of_one_source_is_not_a_gap() -> None:
    # ingest's latest event of each channel, replayed in one burst: old, with holes between.
    t = SeqTracker([""])
    burst = [("ingest.relay.a", INGEST, 50), ("ingest.relay.b", INGEST, 51)]
    burst += [("ingest.relay.c", INGEST, 55)]
    assert feed(t, burst) == [Verdict.NEW] * 3
    feed(t, [("ingest.relay.a", INGEST, 56)])  # a topic heard again: live
    got = feed(t, [("ingest.relay.b", INGEST, 59)])
    assert got == [Gap(INGEST, 57, 58)] and t.lost == 2


def test_a_replay_of_a_lost_event_takes_it_off_the_losses() -> None:
    t = SeqTracker([""])
    feed(t, [("data.example", RELAY, s) for s in (1, 2, 5, 6)])
    assert t.lost == 2
    verdict, gap = t.observe("relay.status.example", RELAY, 3)  # another subscriber joined
    assert (verdict, gap) == (Verdict.LATE, None)
    assert t.observe("relay.status.example", RELAY, 3) == (Verdict.DUPLICATE, None)
    assert (t.lost, t.late, t.lost_by_source()) == (1, 1, {RELAY: 1})


def test_gaps_count_only_where_every_topic_of_the_source_is_subscribed() -> None:
    # A relay's seq also counts data, file and error events: relay.status alone has holes.
    only_status = SeqTracker(["relay.status"])
    feed(only_status, [("relay.status.example", RELAY, s) for s in (1, 2, 100, 200)])
    assert (only_status.lost, only_status.gaps) == (0, 0)
    assert not only_status.checks(RELAY) and only_status.checks("bus/proxy/1-1") is False
    assert only_status.unchecked_sources == 1

    whole = SeqTracker(topic_filters(["relay", "data", "bus"]))
    assert whole.checks(RELAY) and whole.checks(BUS) and not whole.checks(INGEST)
    assert not whole.checks("tool/probe/1-1"), "a tool may publish any topic"
    feed(whole, [("data.example", RELAY, s) for s in (1, 2, 100)])
    assert whole.lost == 97


def test_checked_services_follow_topics_yaml() -> None:
    assert gap_checked_services(("",)) is None
    assert gap_checked_services(("bus.status",)) == {"bus"}
    assert gap_checked_services(("bus", "ingest.relay")) == {"bus", "ingest"}
    assert gap_checked_services(("relay.status.example",)) == frozenset()
    assert "registry" in gap_checked_services(("registry",))  # type: ignore[operator]


def test_memory_stays_bounded() -> None:
    t = SeqTracker([""], window=8, sources=4)
    feed(t, [("data.x", RELAY, s) for s in range(1, 1000)])
    feed(t, [("data.x", f"relay/x/{n}-1", 1) for n in range(10)])
    assert len(t._sources) == 4
    assert t.lost == 0


@pytest.mark.parametrize(
    "wanted",
    ["relay", "relay.status", "relay.status.example", "data.example", "bus.status", "bus",
     "ingest.relay.a", "registry.snapshot", "registry.channel.x"],
)  # fmt: skip
def test_listed_filters(wanted: str) -> None:
    assert unlisted_filters(topic_filters(wanted)) == []


@pytest.mark.parametrize(
    "wanted",
    ["nosuch", "relay.nosuch", "relay.status.example.x", "bus.status.x", "registry.snapshot.x",
     "data.a.b"],
)  # fmt: skip
def test_unlisted_filters(wanted: str) -> None:
    assert unlisted_filters(topic_filters(["relay", wanted])) == [wanted]
