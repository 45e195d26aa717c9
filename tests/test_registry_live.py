"""A channel's status from what the registry heard: starting until its relay's first
relay.status, active while they come, failed after ingest reports an exit or back-off (with
the relay's last line), stopped when ingest stopped it or its beats went stale."""

from __future__ import annotations

import time

from services.registry.live import Live


def status(channel: str = "c") -> dict:
    return {"channel": channel, "state": "running", "received": 5, "rejected": {"utf8": 1},
            "rate": 2.5, "current_file": "x.avro"}  # fmt: skip


def ingest(action: str, changed: int, detail: str = "") -> dict:
    return {"channel": "c", "action": action, "changed": changed, "time": changed,
            "detail": detail}  # fmt: skip


def test_status_follows_what_was_heard():
    live = Live(stale_s=60)
    registered = time.time_ns()
    assert live.view("c", registered).status == "starting"
    live.relay_status(status())
    seen = live.view("c", registered)
    assert seen.status == "active" and seen.heartbeat_ns is not None
    assert seen.counters == {"received": 5, "rejected": {"utf8": 1}, "rate": 2.5,
                             "state": "running"}  # fmt: skip
    assert seen.last_error is None
    live.ingest_relay(ingest("backoff", time.time_ns(), "cannot bind 127.0.0.1:26000"))
    failed = live.view("c", registered)
    assert (failed.status, failed.last_error) == ("failed", "cannot bind 127.0.0.1:26000")
    live.ingest_relay(ingest("exited", registered - 10))  # an older action changes nothing
    assert live.view("c", registered).last_error == "cannot bind 127.0.0.1:26000"
    # a failure before the channel's last change (a new schema, say) no longer counts
    assert live.view("c", time.time_ns()).status == "active"
    live.ingest_relay(ingest("started", time.time_ns()))
    assert live.view("c", registered).status == "active"
    live.ingest_relay(ingest("stopped", time.time_ns()))
    assert live.view("c", registered).status == "active"  # its last beat is still fresh
    live.forget("c")
    assert live.view("c", registered).status == "starting"


def test_stale_beats_and_stopped():
    live = Live(stale_s=0.05)
    live.relay_status(status())
    assert live.view("c", 0).status == "active"
    time.sleep(0.1)
    assert live.view("c", 0).status == "stopped"
    other = Live(stale_s=60)
    other.ingest_relay(ingest("stopped", time.time_ns()))
    assert other.view("c", 0).status == "stopped"
