"""Reading a service's ``GET /metrics`` in tests: families, samples, and the check that every
family served is listed in proto/topics.yaml for that service with its type."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from speeddata.metrics import listed_metrics

Labels = tuple[tuple[str, str], ...]


def families(text: str) -> dict[str, str]:
    """Family name as on its ``# TYPE`` line -> type."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            out[name] = kind
    return out


def samples(text: str) -> dict[tuple[str, Labels], float]:
    """(sample name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def assert_listed(text: str, service: str) -> dict[str, str]:
    """Every family served is listed for ``service`` with its type, every sample belongs to a
    served family, and every family listed for ``service`` (or all) is served."""
    listed = listed_metrics()
    served = families(text)
    for name, kind in served.items():
        assert name in listed, f"{service} serves {name}, not listed in proto/topics.yaml"
        assert listed[name]["type"] == kind, f"{name}: served as {kind}, listed otherwise"
        assert listed[name]["services"] == "all" or service in listed[name]["services"], name
    bases = {n.removesuffix("_total") for n in served} | set(served)
    for name, _ in samples(text):
        base = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        assert name in bases or base in bases, f"sample {name} of no served family"
    mine = {n for n, e in listed.items() if e["services"] == "all" or service in e["services"]}
    assert set(served) == mine, f"listed for {service} but not served: {mine - set(served)}"
    return served
