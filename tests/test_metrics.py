"""Prometheus /metrics: the listing in proto/topics.yaml, the shared middleware of
:mod:`speeddata.metrics`, and the registry's relay counters during a real demo run (bus,
registry, ingest, relays, the demo sender) against the relay.status events on the bus."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.core import GaugeMetricFamily
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from speeddata.bus import Subscriber
from speeddata.config import load_settings
from speeddata.events import listing
from speeddata.metrics import UnlistedMetric, instrument, listed_metrics
from tests.metricstools import assert_listed, value
from tests.procs import wait_until
from tests.system import System, make_system

SERVICES = ("registry", "pivot", "stripchart", "janitor")
"""Services that may serve a family of their own (the HTTP ones; the janitor's, if it grows
an HTTP side)."""


def test_every_metric_is_listed_well() -> None:
    listed = listed_metrics()
    for name, entry in listed.items():
        assert entry["type"] in ("counter", "gauge", "histogram"), name
        assert name.endswith("_total") == (entry["type"] == "counter"), name
        assert entry["services"] == "all" or set(entry["services"]) <= set(SERVICES), name
        assert ("doc" in entry) != ("relay" in entry), f"{name}: a doc or a relay counter"
    served = [e["relay"] for e in listed.values() if "relay" in e]
    assert sorted(served) == sorted(listing()["relay_counters"]), "each relay counter once"


def _boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def _app(*collectors: Any) -> Starlette:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["n"])

    app = Starlette(routes=[Route("/items/{n}", item), Route("/boom", _boom)])
    instrument(app, "registry", *collectors)
    return app


def test_requests_counted_by_route_template() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as http:
        for n in range(3):
            assert http.get(f"/items/{n}").status_code == 200
        assert http.get("/nowhere/1").status_code == 404
        assert http.get("/nowhere/2").status_code == 404
        assert http.get("/boom").status_code == 500
        text = http.get("/metrics").text
    count = "speeddata_http_requests_total"
    base = {"service": "registry", "method": "GET"}
    assert value(text, count, **base, route="/items/{n}", status="200") == 3
    assert value(text, count, **base, route="unmatched", status="404") == 2
    assert value(text, count, **base, route="/boom", status="500") == 1
    hist = "speeddata_http_request_duration_seconds_count"
    assert value(text, hist, **base, route="/items/{n}") == 3
    assert value(text, "speeddata_http_requests_in_progress", service="registry") == 1  # this one
    assert value(text, "process_cpu_seconds_total") is not None


def test_unlisted_metric_is_refused() -> None:
    class Collector:
        def __init__(self, name: str) -> None:
            self.name = name

        def describe(self) -> Iterator[GaugeMetricFamily]:
            yield GaugeMetricFamily(self.name, "doc")

        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield from self.describe()

    with pytest.raises(UnlistedMetric, match="speeddata_bogus is not listed"):
        _app(Collector("speeddata_bogus"))
    with pytest.raises(UnlistedMetric, match="is listed as a counter"):
        _app(Collector("speeddata_relay_received_total"))
    instrument(Starlette(), "pivot")  # the shared families are everyone's
    with pytest.raises(UnlistedMetric, match="not listed for the service pivot"):
        app = Starlette()
        instrument(app, "pivot", Collector("speeddata_registry_channels"))


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(tmp_path, relay_binary)


COMPARED = ("received", "records", "archived", "forwarded", "kernel_drops", "unarchived")


def test_demo_counters_move_and_match_relay_status(system: System, procs: list) -> None:
    for service in ("bus", "registry", "ingest"):
        procs.append(system.start("-m", f"services.{service}"))
    registry = procs[1].ready["http"]
    heard: list[dict[str, Any]] = []
    stop = threading.Event()
    settings = load_settings(system.config, system.data_dir)
    sub = Subscriber("relay.status.example", settings)

    def listen() -> None:
        while not stop.is_set():
            event = sub.recv(0.2)
            if event is not None:
                heard.append(event.fields)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        procs.append(system.start("-m", "speeddata", "send", "demo", "--channel", "example",
                                  "--rate", "50", wait_ready=False))  # fmt: skip
        with httpx.Client(base_url=f"http://{registry}", timeout=10) as http:
            first = wait_until(lambda: _records(http.get("/metrics").text), timeout=20,
                               what="records counted")  # fmt: skip
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"", ("127.0.0.1", system.ports["example"]))  # rejected: empty
            text = wait_until(
                lambda: (t := http.get("/metrics").text) and _rejected(t) and _records(t) > first
                and t, what="the counters to move and the reject counted")  # fmt: skip
            assert_listed(text, "registry")
            scraped = {c: value(text, f"speeddata_relay_{c}_total", channel="example")
                       for c in COMPARED}  # fmt: skip
            wait_until(lambda: any(_same(scraped, e) for e in list(heard)),
                       what=f"a relay.status with {scraped}")  # fmt: skip
            assert value(text, "speeddata_registry_channel_status", channel="example",
                         status="active") == 1  # fmt: skip
            assert value(text, "speeddata_relay_rate", channel="example") is not None
            assert None not in scraped.values(), scraped
            assert (scraped["archived"] or 0) <= len(system.archived("example"))
            counted = value(text, "speeddata_http_requests_total", service="registry",
                            method="GET", route="/metrics", status="200")  # fmt: skip
            assert (counted or 0) >= 2
    finally:
        stop.set()
        listener.join(5)
        sub.close()


def _records(text: str) -> float:
    return value(text, "speeddata_relay_records_total", channel="example") or 0


def _rejected(text: str) -> bool:
    n = value(text, "speeddata_relay_rejected_total", channel="example", reason="empty")
    return n == 1


def _same(scraped: dict[str, float | None], event: dict[str, Any]) -> bool:
    return all(scraped[c] == event[c] for c in COMPARED) and event["rejected"].get("empty") == 1
