"""``GET /metrics``: Prometheus text of the registry and of each channel's relay counters as
last heard in ``relay.status`` (names from proto/topics.yaml's ``relay_counters``:
``speeddata_relay_<counter>_total``, rates as gauges ``speeddata_relay_<rate>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.registry.db import ChannelRow
from speeddata.events import listing

if TYPE_CHECKING:
    from services.registry.context import Context

GAUGES = frozenset({"rate", "record_rate"})
STATUSES = ("starting", "active", "failed", "stopped")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(out: list[str], name: str, kind: str, doc: str) -> None:
    out.append(f"# HELP {name} {doc}")
    out.append(f"# TYPE {name} {kind}")


def render(c: Context, rows: Sequence[ChannelRow]) -> str:
    out: list[str] = []
    views = {r.name: c.live.view(r.name, r.updated_ns) for r in rows}
    _family(out, "speeddata_registry_channels", "gauge", "channels registered")
    out.append(f"speeddata_registry_channels {len(rows)}")
    _family(out, "speeddata_registry_channel_status", "gauge", "1 for the channel's status")
    for name, view in views.items():
        for status in STATUSES:
            on = int(view.status == status)
            out.append(
                f'speeddata_registry_channel_status{{channel="{_label(name)}",'
                f'status="{status}"}} {on}'
            )
    _family(out, "speeddata_registry_schema_version", "gauge", "the channel's schema version")
    for r in rows:
        out.append(
            f'speeddata_registry_schema_version{{channel="{_label(r.name)}"}} {r.schema_version}'
        )
    for counter, doc in listing()["relay_counters"].items():
        gauge = counter in GAUGES
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
