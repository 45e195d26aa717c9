"""Property test from the registry's own OpenAPI document (schemathesis, bounded examples):
against the real service, no request gets a 5xx, a status it does not document, or a body
outside its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from speeddata.config import ROOT
from tests.registrytools import AUTH, TOKEN
from tests.system import make_system

MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def registry_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = Path(tmp_path_factory.mktemp("openapi"))
    system = make_system(tmp, ROOT / "native" / "zmq_relay" / "build" / "zmq_relay",
                         registry={"port": 0})  # fmt: skip
    system.env["SPEEDDATA_TOKEN"] = TOKEN
    proc = system.start("-m", "services.registry")
    try:
        yield f"http://{proc.ready['http']}"
    finally:
        assert proc.stop() == 0
        assert not any("Traceback" in line for line in proc.lines), "\n".join(proc.lines)


def test_registry_api_conforms(registry_base: str) -> None:
    api = schemathesis.openapi.from_url(f"{registry_base}/api/v1/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(base_url=registry_base, headers=AUTH, checks=CHECKS)

        try:
            check()
        except Exception as e:
            raise AssertionError(f"{operation.label}: {e}") from e
