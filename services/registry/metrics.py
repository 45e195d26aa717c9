"""The registry's own Prometheus families, collected at each ``GET /metrics`` (mounted by
:func:`speeddata.metrics.instrument`): its channels, their status and schema version, and each
channel's relay counters as last heard in ``relay.status``. Every name, type and doc comes from
``metrics`` in proto/topics.yaml (the relay families name their ``relay_counters`` entry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from services.registry import store
from speeddata.metrics import doc, listed_metrics

if TYPE_CHECKING:
    from services.registry.context import Context

Family = CounterMetricFamily | GaugeMetricFamily

STATUSES = ("starting", "active", "failed", "stopped")
FAMILIES: dict[str, type[Family]] = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


def _family(name: str, labels: list[str] | None = None) -> Family:
    """An empty family of the listed ``name`` (prometheus_client adds a counter's ``_total``)."""
    kind = listed_metrics()[name]["type"]
    base = name.removesuffix("_total") if kind == "counter" else name
    return FAMILIES[kind](base, doc(name), labels=labels)


def _relay_metrics() -> dict[str, str]:
    """Listed family -> the relay counter it serves."""
    return {name: e["relay"] for name, e in listed_metrics().items() if "relay" in e}


class RegistryCollector:
    """Reads the channels (a database query: prometheus_client collects in the endpoint's worker
    thread) and what the registry heard; ``context()`` is None until the app has started."""

    def __init__(self, context: Callable[[], Context | None]) -> None:
        self._context = context

    def describe(self) -> Iterator[Family]:
        yield _family("speeddata_registry_channels")
        yield _family("speeddata_registry_channel_status", ["channel", "status"])
        yield _family("speeddata_registry_schema_version", ["channel"])
        for name, counter in _relay_metrics().items():
            yield _family(name, ["channel", "reason"] if counter == "rejected" else ["channel"])

    def collect(self) -> Iterator[Family]:
        c = self._context()
        if c is None:
            return
        rows = store.rows(c.db)
        views = {r.name: c.live.view(r.name, r.updated_ns) for r in rows}
        families = {f.name: f for f in self.describe()}
        channels = families["speeddata_registry_channels"]
        channels.add_metric([], len(rows))
        status = families["speeddata_registry_channel_status"]
        for name, view in views.items():
            for s in STATUSES:
                status.add_metric([name, s], int(view.status == s))
        version = families["speeddata_registry_schema_version"]
        for r in rows:
            version.add_metric([r.name], r.schema_version)
        for listed, counter in _relay_metrics().items():
            family = families[listed.removesuffix("_total")]
            for name, view in views.items():
                _add_relay(family, name, view.counters.get(counter))
        yield from families.values()


def _add_relay(family: Family, channel: str, value: Any) -> None:
    """One channel's value of a relay counter: a map (rejected) is one series per key."""
    if isinstance(value, dict):
        for reason, n in sorted(value.items()):
            family.add_metric([channel, str(reason)], n)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        family.add_metric([channel], value)
