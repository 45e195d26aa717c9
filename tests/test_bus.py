"""The bus proxy (services.bus, a real process on ephemeral ports) and speeddata.bus."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from speeddata.bus import (
    BusTimeout,
    Event,
    Publisher,
    Subscriber,
    publish,
    subscribe,
    topic_filters,
    topic_matches,
)
from speeddata.config import ROOT, Settings, load_settings
from speeddata.events import assert_event_listed, encode, listing, schemas
from tests.procs import Proc, start

TIMEOUT = 15.0
pytestmark = pytest.mark.timeout(90)
EPHEMERAL = "tcp://127.0.0.1:0"


def start_bus(
    procs: list[Proc],
    xsub: str = EPHEMERAL,
    xpub: str = EPHEMERAL,
    beats: int = 5,
    env: dict[str, str] | None = None,
):
    argv = [sys.executable, "-m", "services.bus", "--xsub", xsub, "--xpub", xpub]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    proc = start([*argv, "--cache-beats", str(beats)], env={**environ, **(env or {})}, cwd=ROOT)
    procs.append(proc)
    return proc


def bus_settings(proc: Proc) -> Settings:
    return load_settings().override(bus={"xsub": proc.ready["xsub"], "xpub": proc.ready["xpub"]})


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def relay_status(channel: str) -> dict[str, Any]:
    counters = dict.fromkeys(listing()["relay_counters"], 0)
    del counters["rejected"]
    return {
        "channel": channel,
        "state": "running",
        "reason": "",
        "rejected": {},
        "rate": 0.0,
        "record_rate": 0.0,
        "current_file": None,
        "started": time.time_ns(),
        **counters,
    }


def ingest_relay(channel: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "port": 26000,
        "action": "started",
        "repeat": False,
        "changed": time.time_ns(),
        "pid": 4242,
        "exit_code": None,
        "signal": None,
        "detail": "",
        "restarts": 0,
        "delay_s": 0.0,
        "runtime_s": 0.0,
    }


def registry_channel(name: str, action: str) -> dict[str, Any]:
    return {
        "name": name,
        "action": action,
        "port": 26000,
        "fingerprint": "8f5c393f1ad57572",
        "mcast_full": "239.1.1.1:36000",
        "mcast_dec": "239.1.1.2:37000",
        "status": "stopped",
        "changes": [],
    }


def data_batch(channel: str) -> dict[str, Any]:
    return {"channel": channel, "fingerprint": "8f5c393f1ad57572", "count": 0, "records": b""}


def pump(
    send: Callable[[], object], sub: Subscriber, done: Callable[[list[Event]], bool]
) -> list[Event]:
    """Calls ``send`` every 50 ms (publishers lose what they send before the proxy's
    subscription reaches them) and collects events until ``done(events)``; fails loudly."""
    seen: list[Event] = []
    deadline = time.monotonic() + TIMEOUT
    while not done(seen):
        if time.monotonic() > deadline:
            got = sorted({e.topic for e in seen})
            raise AssertionError(f"timed out after {TIMEOUT}s; topics seen: {got}")
        send()
        while (event := sub.recv(0.05)) is not None:
            assert_event_listed(event.topic, event.fields)
            seen.append(event)
    return seen


def collect(sub: Subscriber, seconds: float) -> list[Event]:
    """Every event that arrives within ``seconds``."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if (event := sub.recv(left)) is not None:
            out.append(event)
    return out


def topics_of(events: list[Event]) -> set[str]:
    return {e.topic for e in events}


def fill_status(settings: Settings, ctx: zmq.Context, channels: list[str]) -> dict[str, Event]:
    """Publishes relay.status of every channel until the bus delivered them, then stops (what
    arrives later comes from the cache); returns the latest event of each topic."""
    pubs = [Publisher("relay", ch, settings, context=ctx) for ch in channels]
    wanted = {f"relay.status.{ch}" for ch in channels}
    with Subscriber("relay.status", settings, context=ctx) as witness:
        try:
            seen = pump(
                lambda: [
                    p.publish(f"relay.status.{ch}", relay_status(ch))
                    for ch, p in zip(channels, pubs, strict=True)
                ],
                witness,
                lambda seen: wanted <= topics_of(seen),
            )
        finally:
            for p in pubs:
                p.close()
        seen += collect(witness, 0.5)
    return {e.topic: e for e in seen}


def bus_status_fields() -> dict[str, Any]:
    return {"started": 0, "xsub": "", "xpub": "", **dict.fromkeys(listing()["bus_counters"], 0)}


def test_topic_filters_match_whole_segments() -> None:
    assert topic_matches("data.example", ["data.example"])
    assert not topic_matches("data.example_2", ["data.example"])
    assert topic_matches("relay.status.x", topic_filters("relay.status"))
    assert topic_matches("relay.status.x", topic_filters("relay.status."))
    assert not topic_matches("relay.statusx.y", topic_filters("relay.status"))
    assert topic_matches("anything.at.all", topic_filters(["", "bus"]))
    assert topic_filters(["bus", "bus."]) == ("bus",)
    for bad in ["a..b", "a b", []]:
        with pytest.raises(ValueError):
            topic_filters(bad)


def test_ready_line_status_and_clean_exit(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs)
    assert bus.ready["service"] == "bus" and int(bus.ready["pid"]) == bus.pid
    for key in ("xsub", "xpub"):
        assert bus.ready[key].startswith("tcp://127.0.0.1:") and not bus.ready[key].endswith(":0")
    with Subscriber("bus", bus_settings(bus), context=ctx) as sub:
        event = sub.recv(TIMEOUT)
    assert event is not None, "no bus.status from the proxy"
    assert event.topic == "bus.status" and event.name == "BusStatus"
    assert (event.fields["xsub"], event.fields["xpub"]) == (bus.ready["xsub"], bus.ready["xpub"])
    assert event.source.startswith(f"bus/proxy/{bus.pid}-")
    assert_event_listed(event.topic, event.fields)
    assert bus.stop() == 0

    again = start_bus(procs)
    again.popen.send_signal(signal.SIGINT)
    assert again.popen.wait(TIMEOUT) == 0


def test_bind_failure_is_one_clear_line(procs: list[Proc]) -> None:
    bus = start_bus(procs)
    argv = [sys.executable, "-m", "services.bus", "--xsub", bus.ready["xsub"], "--xpub", EPHEMERAL]
    second = start(argv, cwd=ROOT, wait_ready=False)
    procs.append(second)
    assert second.popen.wait(TIMEOUT) == 1
    line = second.wait_line(lambda s: s.startswith("event=error"))
    assert "cannot bind xsub" in line and bus.ready["xsub"] in line


def test_late_subscriber_gets_every_channel_status_at_once(
    procs: list[Proc], ctx: zmq.Context
) -> None:
    bus = start_bus(procs, beats=30)
    settings = bus_settings(bus)
    channels = ["alpha", "beta", "gamma"]
    latest = fill_status(settings, ctx, channels)

    with Subscriber("relay.status", settings, context=ctx) as late:
        got = pump(lambda: None, late, lambda seen: len(topics_of(seen)) == len(channels))
        got += collect(late, 0.5)
    assert topics_of(got) == {f"relay.status.{ch}" for ch in channels}
    for event in got:
        assert event.name == "RelayStatus"
        assert event.fields == latest[event.topic].fields, "the cache replays the latest event"
    assert len(got) == len(channels), "each cached entry once"


def test_duplicates_are_dropped(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs, beats=30)
    settings = bus_settings(bus)
    fill_status(settings, ctx, ["alpha", "beta"])

    with Subscriber("relay.status", settings, context=ctx) as first:
        pump(lambda: None, first, lambda seen: len(seen) == 2)
        # A second subscriber joining makes the proxy replay the cache, to both of them.
        with Subscriber("relay", settings, context=ctx) as second:
            pump(lambda: None, second, lambda seen: len(seen) == 2)
            pump(lambda: None, first, lambda seen: first.duplicates >= 2)
        assert collect(first, 0.5) == []

    with (
        Publisher("tool", "dup", settings, context=ctx) as pub,
        Subscriber("relay.status.dup", settings, context=ctx) as sub,
    ):
        fields = {**relay_status("dup"), "source": "tool/dup/1-1", "seq": 1, "time": 1}
        payload = encode("relay.status.dup", fields)
        got = pump(lambda: pub.send("relay.status.dup", payload), sub, bool)
        for _ in range(3):
            pub.send("relay.status.dup", payload)
        pub.publish("relay.status.dup", relay_status("dup"))
        got += pump(lambda: None, sub, lambda seen: bool(seen))
        assert sub.duplicates >= 3
    assert [(e.source, e.seq) for e in got] == [("tool/dup/1-1", 1), (pub.source, 1)]


def test_data_example_never_delivers_data_example_2(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs)
    settings = bus_settings(bus)
    with (
        Publisher("relay", "example", settings, context=ctx) as pub,
        Subscriber("data.example", settings, context=ctx) as exact,
        Subscriber("data", settings, context=ctx) as every,
    ):

        def send() -> None:
            pub.publish("data.example_2", data_batch("example_2"))
            pub.publish("data.example", data_batch("example"))

        both = pump(send, every, lambda seen: len(topics_of(seen)) == 2 and len(seen) >= 10)
        assert topics_of(both) == {"data.example", "data.example_2"}
        got = pump(lambda: None, exact, lambda seen: len(seen) >= 5)
        got += collect(exact, 0.5)
    assert topics_of(got) == {"data.example"}


def test_entries_expire_after_missed_beats(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs, beats=2)
    settings = bus_settings(bus)
    fill_status(settings, ctx, ["alpha"])
    with Subscriber("bus.status", settings, context=ctx) as status:
        pump(lambda: None, status, lambda seen: any(e.fields["cache_expired"] for e in seen))
    with Subscriber(["relay", "bus"], settings, context=ctx) as late:
        got = pump(lambda: None, late, lambda seen: bool(seen))
        got += collect(late, 1.5)
    assert "bus.status" in topics_of(got), "bus.status stays cached: the proxy keeps beating"
    assert "relay.status.alpha" not in topics_of(got)


def test_removed_channel_leaves_the_cache(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs, beats=30)
    settings = bus_settings(bus)
    fill_status(settings, ctx, ["alpha", "beta"])
    with (
        Publisher("ingest", "supervisor", settings, context=ctx) as ingest,
        Subscriber("ingest", settings, context=ctx) as witness,
    ):
        pump(lambda: ingest.publish("ingest.relay.alpha", ingest_relay("alpha")), witness, bool)

    with (
        Publisher("registry", "api", settings, context=ctx) as registry,
        Subscriber("bus.status", settings, context=ctx) as status,
    ):
        pump(
            lambda: registry.publish(
                "registry.channel.alpha", registry_channel("alpha", "removed")
            ),
            status,
            lambda seen: any(e.fields["cache_removed"] >= 2 for e in seen),
        )

    with Subscriber(["relay", "ingest"], settings, context=ctx) as late:
        got = pump(lambda: None, late, lambda seen: "relay.status.beta" in topics_of(seen))
        got += collect(late, 1.0)
    assert topics_of(got) == {"relay.status.beta"}


def test_restarted_proxy_is_rejoined(procs: list[Proc], ctx: zmq.Context) -> None:
    first = start_bus(procs)
    settings = bus_settings(first)
    with (
        Publisher("relay", "alpha", settings, context=ctx) as pub,
        Subscriber("relay.status.alpha", settings, context=ctx) as sub,
    ):
        send = lambda: pub.publish("relay.status.alpha", relay_status("alpha"))  # noqa: E731
        before = pump(send, sub, bool)
        assert first.stop() == 0

        second = start_bus(procs, xsub=first.ready["xsub"], xpub=first.ready["xpub"])
        assert (second.ready["xsub"], second.ready["xpub"]) == (
            first.ready["xsub"],
            first.ready["xpub"],
        )
        mark = pub.seq
        after = pump(send, sub, lambda seen: any(e.seq > mark for e in seen))
    assert max(e.seq for e in after) > max(e.seq for e in before)
    with Subscriber("relay.status.alpha", settings, context=ctx) as late:
        assert late.recv(TIMEOUT) is not None, "the new proxy's cache serves a late joiner"


def test_publisher_never_blocks_and_counts_drops(ctx: zmq.Context) -> None:
    sink = ctx.socket(zmq.XSUB)
    sink.setsockopt(zmq.LINGER, 0)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    sink.send(b"\x01")  # subscribes to everything, then never reads
    settings = load_settings().override(bus={"hwm": 10})
    with Publisher("tool", "flood", settings, endpoint=f"tcp://127.0.0.1:{port}", context=ctx) as p:
        deadline = time.monotonic() + TIMEOUT
        while p.dropped == 0:
            assert time.monotonic() < deadline, "no drop counted against a reader that never reads"
            p.publish("bus.status", bus_status_fields())
            sink.getsockopt(zmq.EVENTS)  # lets the sink attach and subscribe, reading nothing
        assert p.sent + p.dropped == p.seq
    sink.close()


FLOOD_BYTES = 96 * 1024 * 1024
"""What the flood sends past a stalled subscriber: well beyond every buffer on its way (queues
of bus.hwm = 10 messages, a loopback TCP socket's send and receive buffers)."""


def test_a_stalled_subscriber_leaves_the_others_heartbeats_untouched(
    procs: list[Proc], ctx: zmq.Context
) -> None:
    bus = start_bus(procs, env={"SPEEDDATA__BUS__HWM": "10"})
    publishers = bus_settings(bus)
    small = publishers.override(bus={"hwm": 10})
    batch = {**data_batch("flood"), "records": bytes(64 * 1024)}
    with (
        Publisher("tool", "beat", publishers, context=ctx) as beat,
        Publisher("tool", "flood", publishers, context=ctx) as flood,
        Subscriber("relay.status.beat", small, context=ctx) as healthy,
        Subscriber("", small, context=ctx) as stalled,  # subscribes to all, then never reads
    ):
        heartbeat = lambda: beat.publish("relay.status.beat", relay_status("beat"))  # noqa: E731
        beats = pump(heartbeat, healthy, bool)  # both subscriptions are in place
        sent = 0
        deadline = time.monotonic() + 60
        while sent < FLOOD_BYTES:  # a heartbeat every 50 ms, the flood in between
            assert time.monotonic() < deadline, f"flooded only {sent} bytes in 60 s"
            heartbeat()
            for _ in range(40):
                sent += len(batch["records"]) * flood.publish("data.flood", batch)
            while (event := healthy.recv(0.05)) is not None:
                beats.append(event)
        mark = beat.seq
        beats += pump(heartbeat, healthy, lambda seen: any(e.seq >= mark for e in seen))
        seqs = [e.seq for e in beats]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), "the healthy subscriber lost beats"
        assert healthy.lost == 0

        # The stalled one reads again; the flood's next event shows what it lost at the end.
        last = flood.seq
        tail = data_batch("flood")
        got = pump(
            lambda: flood.publish("data.flood", tail),
            stalled,
            lambda seen: any(e.source == flood.source and e.seq > last for e in seen),
        )
        flooded = [e.seq for e in got if e.source == flood.source]
        span = max(flooded) - min(flooded) + 1
        assert stalled.lost_by_source().get(flood.source, 0) == span - len(flooded) > 0
        assert stalled.gaps > 0 and stalled.lost == sum(stalled.lost_by_source().values())


def test_publish_delivers_a_single_event_and_reuses_its_publisher(procs: list[Proc]) -> None:
    bus = start_bus(procs, beats=30)
    settings = bus_settings(bus)
    schemas()  # loaded now: nothing slows the first publish but its own wait
    assert publish("relay.status.one", relay_status("one"), settings, service="relay", subject="a")
    with Subscriber("relay.status.one", settings) as sub:  # served from the cache
        first = sub.recv(TIMEOUT)
        assert first is not None and first.fields["channel"] == "one"
        publish("relay.status.one", relay_status("one"), settings, service="relay", subject="a")
        second = sub.recv(TIMEOUT)
    assert second is not None
    assert (second.source, second.seq) == (first.source, first.seq + 1)
    assert first.source.startswith("relay/a/")


def test_cache_fills_with_no_subscriber_of_the_topic(procs: list[Proc], ctx: zmq.Context) -> None:
    bus = start_bus(procs, beats=30)
    settings = bus_settings(bus)
    with (
        Publisher("relay", "solo", settings, context=ctx) as pub,
        Subscriber("bus.status", settings, context=ctx) as status,
    ):
        # Only the proxy's own subscription makes the publisher send relay.status at all.
        pump(
            lambda: pub.publish("relay.status.solo", relay_status("solo")),
            status,
            lambda seen: any(e.fields["cache_entries"] >= 2 for e in seen),
        )
    with Subscriber("relay.status.solo", settings, context=ctx) as late:
        event = late.recv(TIMEOUT)
    assert event is not None and event.fields["channel"] == "solo"


def test_subscribe_says_when_nothing_comes(ctx: zmq.Context) -> None:
    with ctx.socket(zmq.XPUB) as silent:
        port = silent.bind_to_random_port("tcp://127.0.0.1")
        events = subscribe(
            "relay", load_settings(), endpoint=f"tcp://127.0.0.1:{port}", timeout=0.3
        )
        with pytest.raises(BusTimeout, match="no event on relay from tcp://127.0.0.1:"):
            next(events)
