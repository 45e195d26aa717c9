"""The registry as a real process (``python -m services.registry`` on a free port) beside a
real bus proxy: its readiness line, the events it publishes, what it hears from relays, and
50 concurrent registrations and removals on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from speeddata.bus import Publisher, Subscriber
from tests.metricstools import value
from tests.procs import wait_until
from tests.registrytools import AUTH, TOKEN, channel_body
from tests.system import System, make_system

API = "/api/v1"


def start_system(tmp_path, relay_binary, procs, database_url: str = "") -> tuple[System, str]:  # type: ignore[no-untyped-def]
    system = make_system(tmp_path, relay_binary, registry={"port": 0, "database_url": database_url})
    system.env["SPEEDDATA_TOKEN"] = TOKEN
    procs.append(system.start("-m", "services.bus"))
    registry = system.start("-m", "services.registry")
    procs.append(registry)
    assert registry.ready["service"] == "registry" and int(registry.ready["pid"]) == registry.pid
    return system, f"http://{registry.ready['http']}{API}"


def relay_status(channel: str, received: int) -> dict:
    return {"channel": channel, "state": "running", "reason": "", "received": received,
            "bytes": received * 10, "records": received, "rejected": {"utf8": 2},
            "kernel_drops": 1, "archived": received, "unarchived": 0, "archive_bytes": 0,
            "files": 1, "quarantined": 2, "quarantine_dropped": 0, "forwarded": received,
            "decimated": received, "mcast_errors": 0, "bus_dropped": 0, "rate": 10.0,
            "record_rate": 10.0, "current_file": None, "started": time.time_ns()}  # fmt: skip


def test_events_and_heard_state(tmp_path, relay_binary, procs):
    system, base = start_system(tmp_path, relay_binary, procs)
    http = httpx.Client(base_url=base, headers=AUTH, timeout=10)
    with Subscriber(["registry"], endpoint=system.xpub) as sub:

        def next_event(topic: str) -> dict:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                event = sub.recv(timeout=1)
                if event is not None and event.topic == topic:
                    return event.fields
            raise AssertionError(f"no {topic} event")

        snapshot = next_event("registry.snapshot")  # the 1 Hz beat, or the cache's copy
        names = {c["name"] for c in snapshot["channels"]}
        assert names == set(system.ports)
        assert snapshot["source"].startswith("registry/api/")
        r = http.post("/channels", json=channel_body("probe", 26950))
        assert r.status_code == 201, r.text
        added = next_event("registry.channel.probe")
        assert added["action"] == "added" and added["port"] == 26950
        assert added["fingerprint"] == r.json()["channel"]["fingerprint"]
        assert added["mcast_full"] == r.json()["channel"]["multicast"]["full"]
        snapshot = next_event("registry.snapshot")
        assert "probe" in {c["name"] for c in snapshot["channels"]}
        r = http.patch("/channels/probe", json={"config": {"decimation": 3}})
        assert r.status_code == 200, r.text
        updated = next_event("registry.channel.probe")
        assert updated["action"] == "updated" and updated["changes"] == ["config"]

        with Publisher("relay", "probe", endpoint=system.xsub) as pub:

            def status() -> dict:
                pub.publish("relay.status.probe", relay_status("probe", 42))
                return http.get("/channels/probe").json()  # type: ignore[no-any-return]

            channel = wait_until(lambda: (c := status())["status"] == "active" and c,
                                 what="probe active")  # fmt: skip
            assert channel["counters"]["received"] == 42
            assert channel["counters"]["rejected"] == {"utf8": 2}
            assert channel["last_heartbeat"] is not None
            metrics = http.get("/metrics").text
            assert value(metrics, "speeddata_relay_received_total", channel="probe") == 42
            assert value(metrics, "speeddata_relay_rejected_total", channel="probe",
                         reason="utf8") == 2  # fmt: skip
            assert value(metrics, "speeddata_relay_rate", channel="probe") == 10.0
            active = http.get("/channels?status=active").json()["channels"]
            assert [c["name"] for c in active] == ["probe"]

            failed = {"channel": "probe", "port": 26950, "action": "backoff", "repeat": False,
                      "changed": time.time_ns(), "pid": 1, "exit_code": 2, "signal": None,
                      "detail": "cannot bind 127.0.0.1:26950", "restarts": 3, "delay_s": 1.0,
                      "runtime_s": 0.1}  # fmt: skip

            def failing() -> dict:
                pub.publish("ingest.relay.probe", failed)
                return http.get("/channels/probe").json()  # type: ignore[no-any-return]

            channel = wait_until(lambda: (c := failing())["status"] == "failed" and c,
                                 what="probe failed")  # fmt: skip
            assert channel["last_error"] == "cannot bind 127.0.0.1:26950"

        assert http.delete("/channels/probe").status_code == 200
        removed = next_event("registry.channel.probe")
        assert removed["action"] == "removed"
    assert procs[-1].stop() == 0  # SIGTERM: a clean stop
    assert any(line.startswith("event=stopped service=registry") for line in procs[-1].lines)


def test_concurrent_registrations_and_removals(tmp_path, relay_binary, procs, db_url):
    system, base = start_system(tmp_path, relay_binary, procs, db_url)
    free = [p for p in range(26100, 26990) if p not in system.ports.values()]
    ports = random.sample(free, 75)  # 50 channels, then 25 ports for 25 pairs to fight over
    start = threading.Barrier(50)

    def work(i: int) -> tuple[int, int, int]:
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
            start.wait()
            made = http.post("/channels", json=channel_body(f"c{i}", ports[i]))
            # every pair also fights over one port: exactly one of them gets it
            fight = http.post("/channels", json=channel_body(f"f{i}", ports[50 + i // 2]))
            gone = http.delete(f"/channels/c{i}") if i % 2 else None
            return made.status_code, fight.status_code, gone.status_code if gone else 0

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(work, range(50)))
    assert [r[0] for r in results] == [201] * 50, results
    assert [r[2] for r in results] == [0, 200] * 25, results
    fights = [r[1] for r in results]
    for pair in range(25):
        assert sorted(fights[2 * pair : 2 * pair + 2]) == [201, 409], fights
    with httpx.Client(base_url=base, timeout=10) as http:
        channels = http.get("/channels").json()["channels"]
        names = {c["name"] for c in channels}
        expected_c = {f"c{i}" for i in range(0, 50, 2)}
        assert {n for n in names if n.startswith("c")} == expected_c
        assert len([n for n in names if n.startswith("f")]) == 25
        ports_used = [c["port"] for c in channels]
        assert len(ports_used) == len(set(ports_used))
        for c in channels:
            versions = http.get(f"/channels/{c['name']}/schemas").json()["versions"]
            assert [v["version"] for v in versions] == [1]
        free_now = http.get("/ports/available").json()["available"]
        assert not set(free_now) & set(ports_used)
        assert {ports[i] for i in range(1, 50, 2)} <= set(free_now)  # the removed ones


@pytest.mark.parametrize("argv", [["--port", "-5"], ["--bind", "256.0.0.1"]])
def test_cannot_start_is_one_line(tmp_path, relay_binary, argv):
    system = make_system(tmp_path, relay_binary)
    proc = system.start("-m", "services.registry", *argv, wait_ready=False)
    assert proc.popen.wait(30) == 1
    proc.stop()
    errors = [line for line in proc.lines if line.startswith("event=error service=registry")]
    assert errors, proc.lines
    assert not any("Traceback" in line for line in proc.lines), proc.lines


def test_accepted_connections_get_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on sockets made as IPPROTO_TCP: without it a keep-alive
    client waited for its delayed ACK (~40 ms) on every response written in two parts (found
    by `python -m bench --case registry`)."""
    from speeddata._webserve import bind_tcp

    async def nodelay_of_accepted() -> int:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[int] = loop.create_future()

        class Check(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        with bind_tcp("127.0.0.1", 0) as sock:
            server = await loop.create_server(Check, sock=sock)
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            try:
                return await asyncio.wait_for(got, 10)
            finally:
                writer.close()
                server.close()

    assert asyncio.run(nodelay_of_accepted()) != 0
