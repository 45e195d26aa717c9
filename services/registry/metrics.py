"""``GET /metrics``: Prometheus text of the registry and of each channel's relay counters as
last heard in ``relay.status``. Every name comes from proto/topics.yaml: the registry's own
families (``registry_metrics``, with their docs) and ``speeddata_relay_<counter>_total`` for each
of ``relay_counters`` (the ``relay_gauges`` as gauges ``speeddata_relay_<counter>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.registry.db import ChannelRow
from speeddata.events import listing

if TYPE_CHECKING:
    from services.registry.context import Context

STATUSES = ("starting", "active", "failed", "stopped")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(out: list[str], name: str, kind: str, doc: str | None = None) -> None:
    """HELP and TYPE lines; a registry family's doc is its line in topics.yaml."""
    out.append(f"# HELP {name} {doc or listing()['registry_metrics'][name]}")
    out.append(f"# TYPE {name} {kind}")


def render(c: Context, rows: Sequence[ChannelRow]) -> str:
    out: list[str] = []
    views = {r.name: c.live.view(r.name, r.updated_ns) for r in rows}
    _family(out, "speeddata_registry_channels", "gauge")
    out.append(f"speeddata_registry_channels {len(rows)}")
    _family(out, "speeddata_registry_channel_status", "gauge")
    for name, view in views.items():
        for status in STATUSES:
            on = int(view.status == status)
            out.append(
                f'speeddata_registry_channel_status{{channel="{_label(name)}",'
                f'status="{status}"}} {on}'
            )
    _family(out, "speeddata_registry_schema_version", "gauge")
    for r in rows:
        out.append(
            f'speeddata_registry_schema_version{{channel="{_label(r.name)}"}} {r.schema_version}'
        )
    gauges = set(listing()["relay_gauges"])
    for counter, doc in listing()["relay_counters"].items():
        gauge = counter in gauges
        metric = f"speeddata_relay_{counter}" + ("" if gauge else "_total")
        _family(out, metric, "gauge" if gauge else "counter", str(doc))
        for name, view in views.items():
            value = view.counters.get(counter)
            channel = f'channel="{_label(name)}"'
            if isinstance(value, dict):
                for reason, n in sorted(value.items()):
                    out.append(f'{metric}{{{channel},reason="{_label(str(reason))}"}} {n}')
            elif isinstance(value, int | float):
                out.append(f"{metric}{{{channel}}} {value}")
    return "\n".join(out) + "\n"
