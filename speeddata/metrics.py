"""Prometheus ``GET /metrics`` for every HTTP service, with prometheus_client.

One line in a service's ``create_app`` mounts it::

    instrument(app, "pivot")  # the route /metrics, request counts and latencies

Each app gets a registry of its own (tests run many apps in one process): the process and GC
collectors of prometheus_client, ``speeddata_http_*`` per request (method, the route's path
template, status), and any collector the service adds (the registry's relay counters). Every
family must be listed in ``metrics`` of proto/topics.yaml: an unlisted one is refused when it
is registered, so the app that would serve it does not start."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import prometheus_client
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from speeddata.events import listing

PATH = "/metrics"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Latency buckets in seconds: from a health check (~1 ms) to a long export."""

SUFFIXES = {"counter": "_total"}
"""prometheus_client names a counter's family (its ``# TYPE`` line) with ``_total``."""


class UnlistedMetric(ValueError):
    """A metric family that proto/topics.yaml does not list (or lists otherwise)."""


def listed_metrics() -> dict[str, dict[str, Any]]:
    """``metrics`` of proto/topics.yaml: every family by the name on its ``# TYPE`` line."""
    return dict(listing()["metrics"])


def doc(name: str) -> str:
    """The listed doc of family ``name`` (a relay counter's: its ``relay_counters`` line)."""
    entry = _entry(name)
    if "relay" in entry:
        return str(listing()["relay_counters"][entry["relay"]])
    return str(entry["doc"])


def _entry(name: str) -> dict[str, Any]:
    entry = listed_metrics().get(name)
    if entry is None:
        raise UnlistedMetric(f"metric {name} is not listed in proto/topics.yaml (metrics)")
    return dict(entry)


def check_family(name: str, kind: str, service: str) -> None:
    """Raises :class:`UnlistedMetric` unless ``name`` is listed with type ``kind`` for
    ``service``. ``name`` as prometheus_client gives it (a counter's without ``_total``)."""
    full = name + SUFFIXES.get(kind, "")
    entry = _entry(full)
    if entry["type"] != kind:
        raise UnlistedMetric(f"metric {full} is listed as a {entry['type']}, served as a {kind}")
    services = entry["services"]
    if services != "all" and service not in services:
        raise UnlistedMetric(f"metric {full} is not listed for the service {service}")


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...

    def describe(self) -> Iterable[Metric]: ...


class ServiceMetrics:
    """The metrics of one service's app: its registry and the HTTP families."""

    def __init__(self, service: str) -> None:
        prometheus_client.disable_created_metrics()  # no *_created series beside each counter
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = self._listed(
            Counter, "speeddata_http_requests", ["service", "method", "route", "status"]
        )
        self.latency = self._listed(
            Histogram,
            "speeddata_http_request_duration_seconds",
            ["service", "method", "route"],
            buckets=BUCKETS,
        )
        self.running = self._listed(Gauge, "speeddata_http_requests_in_progress", ["service"])
        self.running = self.running.labels(service)
        for family in self.registry.collect():  # prometheus_client's own families too
            check_family(family.name, family.type, service)

    def _listed(self, kind: Any, name: str, labels: list[str], **kwargs: Any) -> Any:
        full = name + ("_total" if kind is Counter else "")
        return kind(name, doc(full), labels, registry=self.registry, **kwargs)

    def register(self, collector: Collector) -> None:
        """Adds a service's own collector; every family it describes must be listed."""
        for family in collector.describe():
            check_family(family.name, family.type, self.service)
        self.registry.register(collector)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.latency.labels(self.service, method, route).observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: collected in a worker thread (a collector may query a database)."""
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """ASGI middleware: counts and times every HTTP request (not WebSockets) until the last
    byte of its response, labelled by the route's path template (``unmatched`` when no route
    took it, so scans of random paths add no series)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        began = time.perf_counter()
        self.metrics.running.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.running.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - began)


def instrument(app: Starlette, service: str, *collectors: Collector) -> ServiceMetrics:
    """Mounts ``GET /metrics`` (first, before any catch-all route) and :class:`HttpMetrics` on
    ``app``, with ``collectors`` added to the service's registry; call it in ``create_app``."""
    metrics = ServiceMetrics(service)
    for collector in collectors:
        metrics.register(collector)
    app.router.routes.insert(0, Route(PATH, metrics.endpoint, methods=["GET"]))
    app.add_middleware(HttpMetrics, metrics=metrics)
    app.state.metrics = metrics
    return metrics
