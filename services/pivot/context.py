"""What the pivot's request handlers share: the settings, the registry link and the export
counters (``request.app.state.pivot``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request

from services.pivot.channels import Registry
from speeddata.config import Settings
from speeddata.metrics import ServiceMetrics, check_family, doc


class Metrics:
    """The pivot's own families (listed in proto/topics.yaml), in the service's registry of
    :func:`speeddata.metrics.instrument`; prometheus_client's counters are thread-safe."""

    def __init__(self, served: ServiceMetrics) -> None:
        self._exports = _counter(served, "speeddata_pivot_exports", ["format"])
        self._records = _counter(served, "speeddata_pivot_records")
        self._sent = _counter(served, "speeddata_pivot_sent_bytes")

    def exported(self, fmt: str, records: int) -> None:
        self._exports.labels(fmt).inc()
        self._records.inc(records)

    def sent(self, n: int) -> None:
        self._sent.inc(n)


def _counter(served: ServiceMetrics, name: str, labels: list[str] | None = None) -> Any:
    check_family(name, "counter", "pivot")
    return Counter(name, doc(name + "_total"), labels or [], registry=served.registry)


@dataclass
class PivotContext:
    settings: Settings
    registry: Registry
    metrics: Metrics


def context(request: Request) -> PivotContext:
    ctx: PivotContext = request.app.state.pivot
    return ctx
