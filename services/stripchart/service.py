"""``GET /health``, and the gateway's own Prometheus families for ``GET /metrics`` (mounted by
:func:`speeddata.metrics.instrument`; names, types and docs from ``metrics`` in
proto/topics.yaml)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.stripchart.gateway import Gateway
from speeddata.metrics import doc

Family = CounterMetricFamily | GaugeMetricFamily

FAMILIES = {
    "speeddata_stripchart_clients": "clients",
    "speeddata_stripchart_subscriptions": "subscriptions",
    "speeddata_stripchart_channels": "channels",
    "speeddata_stripchart_frames_total": "frames",
    "speeddata_stripchart_bytes_total": "bytes",
    "speeddata_stripchart_dropped_rows_total": "dropped",
    "speeddata_stripchart_records_total": "records",
    "speeddata_stripchart_undecodable_total": "undecodable",
}
"""Listed family -> the ``stripchart.status`` field it serves."""


def health(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    f = gateway.status_fields()
    return JSONResponse(
        {
            "status": "ok",
            "service": "stripchart",
            "channels": f["channels"],
            "clients": f["clients"],
            "archive_rows": f["archive_rows"],
        }
    )


class GatewayCollector:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def describe(self) -> Iterator[Family]:
        for name in FAMILIES:
            if name.endswith("_total"):
                yield CounterMetricFamily(name.removesuffix("_total"), doc(name))
            else:
                yield GaugeMetricFamily(name, doc(name))

    def collect(self) -> Iterator[Family]:
        fields = self.gateway.status_fields()
        for family, field in zip(self.describe(), FAMILIES.values(), strict=True):
            family.add_metric([], fields[field])
            yield family
