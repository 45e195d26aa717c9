"""Schema versions: PATCH keeps every version and checks the new schema reads the old data
(Avro schema resolution), 409 naming the field unless ?force=true; name and port never change."""

from __future__ import annotations

import copy
from typing import Any

from tests.registrytools import AUTH
from tests.test_registry_api import API, assert_error

V1: dict[str, Any] = {"type": "record", "name": "dev", "namespace": "lab", "fields": [
    {"name": "time", "type": "long"},
    {"name": "count", "type": "int"},
    {"name": "temp", "type": "float"},
    {"name": "label", "type": "string"}]}  # fmt: skip


def with_fields(*fields: dict, drop: tuple[str, ...] = ()) -> dict:
    schema = copy.deepcopy(V1)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop] + list(fields)
    return schema


def retyped(name: str, new_type) -> dict:  # type: ignore[no-untyped-def]
    schema = copy.deepcopy(V1)
    for f in schema["fields"]:
        if f["name"] == name:
            f["type"] = new_type
    return schema


def register(client) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "dev", "port": 26700, "schema": V1, "time_field": "time"}
    assert client.post(f"{API}/channels", json=body, headers=AUTH).status_code == 201


def patch(client, body, query: str = ""):  # type: ignore[no-untyped-def]
    return client.patch(f"{API}/channels/dev{query}", json=body, headers=AUTH)


def test_compatible_changes_add_versions(client):
    register(client)
    steps = [
        with_fields({"name": "extra", "type": "double", "default": 0.0}),  # added, default
        with_fields({"name": "extra", "type": "double", "default": 0.0}, drop=("label",)),
    ]
    r = patch(client, {"schema": steps[0]})
    assert r.status_code == 200, r.text
    assert r.json()["channel"]["schema_version"] == 2
    r = patch(client, {"schema": steps[1]})  # a removed field is fine
    assert r.status_code == 200, r.text
    promoted = copy.deepcopy(steps[1])
    promoted["fields"][1]["type"] = "long"  # count: int -> long
    promoted["fields"][2]["type"] = "double"  # temp: float -> double
    r = patch(client, {"schema": promoted})
    assert r.status_code == 200, r.text
    versions = client.get(f"{API}/channels/dev/schemas").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert [v["schema"] for v in versions] == [V1, steps[0], steps[1], promoted]
    assert len({v["fingerprint"] for v in versions}) == 4
    channel = client.get(f"{API}/channels/dev").json()
    assert channel["schema"] == promoted and channel["schema_version"] == 4
    assert channel["fingerprint"] == versions[-1]["fingerprint"]
    # the same schema again is no new version
    r = patch(client, {"schema": promoted})
    assert r.status_code == 200 and r.json()["channel"]["schema_version"] == 4


def test_incompatible_changes_are_refused_naming_the_field(client):
    register(client)
    cases = [
        (with_fields({"name": "added", "type": "int"}), "added", "default"),
        (retyped("count", "string"), "count", "promotion"),
        (retyped("temp", "int"), "temp", "promotion"),  # float -> int narrows
        (retyped("label", "bytes"), "label", None),  # string -> bytes is a promotion: fine
    ]
    for schema, field, why in cases:
        r = patch(client, {"schema": schema})
        if why is None:
            assert r.status_code == 200, r.text
            continue
        body = assert_error(r, 409, "incompatible_schema")
        assert body["field"] == field, body
        assert why in body["detail"] and field in body["detail"], body
    renamed = copy.deepcopy(V1)
    renamed["name"] = "other"
    body = assert_error(patch(client, {"schema": renamed}), 409, "incompatible_schema")
    assert body["field"] == ""
    assert client.get(f"{API}/channels/dev").json()["schema_version"] == 2


def test_force_registers_an_incompatible_schema(client):
    register(client)
    schema = retyped("count", "string")
    assert_error(patch(client, {"schema": schema}, "?force=false"), 409)
    r = patch(client, {"schema": schema}, "?force=true")
    assert r.status_code == 200, r.text
    assert r.json()["channel"]["schema"] == schema
    assert_error(patch(client, {"schema": schema}, "?force=maybe"), 400, "malformed")


def test_patch_rules(client):
    register(client)
    assert_error(patch(client, {"name": "renamed"}), 422, "immutable")
    assert_error(patch(client, {"port": 26701}), 422, "immutable")
    r = patch(client, {"name": "dev", "port": 26700, "config": {"decimation": 4}})
    assert r.status_code == 200, r.text
    assert r.json()["channel"]["config"] == {"decimation": 4}
    r = patch(client, {"config": {"algorithm": "rms"}})
    assert r.json()["channel"]["config"] == {"decimation": 4, "algorithm": "rms"}
    r = patch(client, {"config": {"decimation": None}})
    assert r.json()["channel"]["config"] == {"algorithm": "rms"}
    assert_error(patch(client, {"config": {"port": 1}}), 422)
    assert_error(patch(client, {"config": {"decimation": -1}}), 422)
    assert_error(patch(client, {"time_field": "label"}), 422, "invalid_schema")  # a string
    assert_error(patch(client, {"schema": {"type": "record", "name": "dev", "namespace": "lab",
                  "fields": [{"name": "rx_time", "type": "long"}]}}), 422)  # fmt: skip
    assert_error(patch(client, {"schema": "/etc/passwd"}), 422, "bad_schema_path")
    assert_error(patch(client, {"schema": 7}), 400, "malformed")
    assert_error(patch(client, {"bogus": 1}), 422)
    r = patch(client, {"time_unit": "ms"})
    assert r.status_code == 200 and r.json()["channel"]["time_unit"] == "ms"
    assert client.get(f"{API}/channels/dev").json()["schema_version"] == 1
    # a new schema keeps the channel's time unit
    added = with_fields({"name": "more", "type": "int", "default": 0})
    r = patch(client, {"schema": added})
    assert r.status_code == 200, r.text
    assert (r.json()["channel"]["time_unit"], r.json()["channel"]["schema_version"]) == ("ms", 2)


def test_validate_schema(client):
    register(client)
    url = f"{API}/channels/dev/validate-schema"
    ok = client.post(url, json={"schema": V1}).json()
    assert ok["valid"] and ok["compatible"] and ok["same"]
    added = with_fields({"name": "x", "type": "int", "default": 1})
    ok = client.post(url, json={"schema": added}).json()
    assert ok["valid"] and not ok["same"]
    body = assert_error(client.post(url, json={"schema": retyped("count", "string")}), 409)
    assert body["valid"] is False and body["field"] == "count"
    body = assert_error(client.post(url, json={"schema": {"type": "enum", "name": "e",
                        "symbols": ["A"]}}), 422)  # fmt: skip
    assert body["valid"] is False
    assert_error(client.post(url, json={}), 400)
    assert client.get(f"{API}/channels/dev").json()["schema_version"] == 1  # nothing changed
