"""The registry's REST contract, on SQLite and on a real PostgreSQL: what the original clients
send and get, and every error with its status and the one JSON shape."""

from __future__ import annotations

import json

import pytest

from speeddata.config import ROOT
from tests.metricstools import assert_listed, value
from tests.registrytools import AUTH, EXAMPLE, channel_body

API = "/api/v1"


def example_schema() -> dict:
    return json.loads((ROOT / EXAMPLE).read_text())


def assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"} and isinstance(body["detail"], str), body
    if code is not None:
        assert body["error"] == code, body
    return body


def test_original_client_flow(client):
    # the baseline channels of config/speeddata.yaml seeded the empty registry
    names = [c["name"] for c in client.get(f"{API}/channels").json()["channels"]]
    assert names == ["example", "temperature"]
    r = client.post(
        f"{API}/channels",
        json={"name": "test_sensor", "port": 26100, "schema": EXAMPLE,
              "config": {"decimation": 10}},
        headers=AUTH,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["status"], done["name"], done["port"]) == ("success", "test_sensor", 26100)
    channel = client.get(f"{API}/channels/test_sensor").json()
    assert channel["schema"] == example_schema()
    assert channel["schema_path"] == EXAMPLE
    assert channel["config"] == {"decimation": 10}
    assert channel["status"] == "starting"
    assert channel["schema_version"] == 1
    assert channel["fingerprint"] == done["channel"]["fingerprint"]
    assert len(channel["fingerprint"]) == 16
    assert channel["multicast"] == {"full": "239.1.1.1:36100", "decimated": "239.1.1.2:37100"}
    assert client.get(f"{API}/channels/test_sensor/schema").json() == example_schema()
    starting = client.get(f"{API}/channels?status=starting").json()["channels"]
    assert "test_sensor" in [c["name"] for c in starting]
    assert client.get(f"{API}/channels?status=active").json() == {"channels": []}
    r = client.delete(f"{API}/channels/test_sensor", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "success"
    assert_error(client.get(f"{API}/channels/test_sensor"), 404, "not_found")
    assert_error(client.delete(f"{API}/channels/test_sensor", headers=AUTH), 404, "not_found")


def test_ports(client):
    empty = client.get(f"{API}/ports/available?start=26500&end=26510").json()
    assert empty == {"range": {"start": 26500, "end": 26510},
                     "available": list(range(26500, 26511)), "count": 11}  # fmt: skip
    client.post(f"{API}/channels", json=channel_body("a", 26505), headers=AUTH)
    after = client.get(f"{API}/ports/available?start=26500&end=26510").json()
    assert 26505 not in after["available"] and after["count"] == 10
    whole = client.get(f"{API}/ports/available").json()
    assert whole["range"] == {"start": 26000, "end": 26999}
    assert whole["count"] == 1000 - 3  # example, temperature, a
    clipped = client.get(f"{API}/ports/available?start=26990&end=27010").json()
    assert clipped["available"] == list(range(26990, 27000))
    assert client.get(f"{API}/ports/26505/status").json() == {
        "port": 26505, "available": False, "status": "in_use", "channel": "a"}  # fmt: skip
    assert client.get(f"{API}/ports/26506/status").json() == {
        "port": 26506, "available": True, "status": "free", "channel": None}  # fmt: skip
    assert_error(client.get(f"{API}/ports/abc/status"), 400, "malformed")
    assert_error(client.get(f"{API}/ports/80/status"), 422, "port_out_of_range")
    assert_error(client.get(f"{API}/ports/available?start=x"), 400, "malformed")
    assert_error(client.get(f"{API}/ports/available?start=26010&end=26000"), 422)
    huge = 10**30  # past any database integer: the range is clipped before a query
    r = client.get(f"{API}/ports/available?start={huge}&end={huge + 5}")
    assert r.status_code == 200 and r.json()["available"] == []
    r = client.get(f"{API}/ports/available?start=-{huge}&end=26001")
    assert r.status_code == 200 and r.json()["available"] == []  # example, temperature


def test_inline_schema_multipart_and_time_fields(client):
    schema = {"type": "record", "name": "probe", "fields": [
        {"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "v", "type": "float"}]}  # fmt: skip
    r = client.post(f"{API}/channels", json=channel_body("inline", 26200, schema,
                    time_field="t"), headers=AUTH)  # fmt: skip
    assert r.status_code == 201, r.text
    got = r.json()["channel"]
    assert (got["time_field"], got["time_unit"], got["schema_path"]) == ("t", "us", None)
    files = {"schema": ("probe.avsc", json.dumps(schema).encode(), "application/json")}
    form = {"name": "uploaded", "port": "26201", "config": '{"decimation": 5}',
            "time_field": "t"}  # fmt: skip
    r = client.post(f"{API}/channels", data=form, files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["channel"]["config"] == {"decimation": 5}
    assert client.get(f"{API}/channels/uploaded/schema").json() == schema
    r = client.post(f"{API}/channels", data={"name": "bypath", "port": "26202",
                    "schema": EXAMPLE}, files={"x": ("", b"")}, headers=AUTH)  # fmt: skip
    assert_error(r, 422)
    r = client.post(f"{API}/channels", data={"name": "bypath", "port": "x", "schema": EXAMPLE},
                    files={"schema": ("a", b"{}")}, headers=AUTH)  # fmt: skip
    assert_error(r, 400, "malformed")
    for content in (b"not json", b"[1]", b'"int"', b"[" * 100_000 + b"]" * 100_000):
        r = client.post(f"{API}/channels", data={"name": "bad", "port": "26203"},
                        files={"schema": ("a.avsc", content)}, headers=AUTH)  # fmt: skip
        assert_error(r, 422, "invalid_schema" if len(content) < 10 else "too_deep")
    r = client.post(f"{API}/channels", data={"name": "f", "port": "26204", "schema": EXAMPLE},
                    files={"name": ("n", b"x")}, headers=AUTH)  # fmt: skip
    assert_error(r, 422)


def test_original_config_keys(client):
    body = channel_body("orig", 26300, config={"decimation": 10, "rotation": 30,
                                               "algorithm": "average"})  # fmt: skip
    r = client.post(f"{API}/channels", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["channel"]["config"] == {"decimation": 10, "rotate_seconds": 30,
                                             "algorithm": "average"}  # fmt: skip


RECORD = {"type": "record", "name": "r", "fields": [{"name": "time", "type": "long"}]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"port": 26400, "schema": EXAMPLE}, 400, "malformed"),  # no name
        ({"name": "m", "schema": EXAMPLE}, 400, "malformed"),  # no port
        ({"name": "m", "port": 26400}, 400, "malformed"),  # no schema
        ({"name": "m", "port": "26400", "schema": EXAMPLE}, 400, "malformed"),
        ({"name": "m", "port": True, "schema": EXAMPLE}, 400, "malformed"),
        ({"name": "m", "port": 26400.5, "schema": EXAMPLE}, 400, "malformed"),
        ({"name": 5, "port": 26400, "schema": EXAMPLE}, 400, "malformed"),
        ({"name": "m", "port": 26400, "schema": 5}, 400, "malformed"),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": []}, 422, None),
        ({"name": "Caps", "port": 26400, "schema": EXAMPLE}, 422, "invalid"),
        ({"name": "<b>x</b>", "port": 26400, "schema": EXAMPLE}, 422, "invalid"),
        ({"name": "9lives", "port": 26400, "schema": EXAMPLE}, 422, "invalid"),
        ({"name": "a" * 64, "port": 26400, "schema": EXAMPLE}, 422, "invalid"),
        ({"name": "m", "port": 80, "schema": EXAMPLE}, 422, "port_out_of_range"),
        ({"name": "m", "port": 27000, "schema": EXAMPLE}, 422, "port_out_of_range"),
        ({"name": "m", "port": 26400, "schema": "/etc/passwd"}, 422, "bad_schema_path"),
        ({"name": "m", "port": 26400, "schema": "config/../pyproject.toml"}, 422,
         "bad_schema_path"),
        ({"name": "m", "port": 26400, "schema": "speeddata/schema.py"}, 422, "bad_schema_path"),
        ({"name": "m", "port": 26400, "schema": "config/agents/none.avsc"}, 422,
         "schema_not_found"),
        ({"name": "m", "port": 26400, "schema": "config/speeddata.yaml"}, 422, "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": {"type": "enum", "name": "e", "symbols": ["A"]}},
         422, "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": {"type": "record", "name": "r",
          "fields": [{"name": "rx_time", "type": "long"}]}}, 422, "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": {"type": "record", "name": "r",
          "fields": [{"name": "x", "type": "nosuchtype"}]}}, 422, "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": {"type": "record", "name": "r", "fields": 3}},
         422, "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": RECORD, "time_field": "nope"}, 422,
         "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": {"type": "record", "name": "r",
          "fields": [{"name": "time", "type": "string"}]}, "time_field": "time"}, 422,
         "invalid_schema"),
        ({"name": "m", "port": 26400, "schema": RECORD, "time_unit": "fortnights"}, 422, None),
        ({"name": "m", "port": 26400, "schema": RECORD, "time_field": "t" * 256}, 422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"bogus": 1}}, 422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"name": "x"}}, 422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"port": 26401}}, 422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"decimation": "ten"}}, 422,
         None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"decimation": 0}}, 422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "config": {"algorithm": "median"}},
         422, None),
        ({"name": "m", "port": 26400, "schema": EXAMPLE, "extra": 1}, 422, None),
    ],
)  # fmt: skip
def test_create_rejects(client, body, status, code):
    assert_error(client.post(f"{API}/channels", json=body, headers=AUTH), status, code)
    assert_error(client.get(f"{API}/channels/m"), 404)


def test_create_rejects_bodies(client):
    post = f"{API}/channels"
    json_type = {**AUTH, "content-type": "application/json"}
    assert_error(client.post(post, content=b"{nope", headers=json_type), 400, "malformed")
    assert_error(client.post(post, content=b"", headers=json_type), 400, "malformed")
    assert_error(client.post(post, content=b"[1, 2]", headers=json_type), 400, "malformed")
    assert_error(client.post(post, content=b"\xff\xfe", headers=json_type), 400, "malformed")
    deep = b'{"name": "d", "port": 26400, "schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_error(client.post(post, content=deep, headers=json_type), 422, "too_deep")
    nested = {"type": "record", "name": "r", "fields": []}
    for _ in range(70):  # within the JSON depth cap, past the relay's nesting budget
        nested = {"type": "record", "name": "r", "fields": [{"name": "x", "type": nested}]}
    r = client.post(post, json=channel_body("d", 26400, nested), headers=AUTH)
    assert_error(r, 422)
    plain = {**AUTH, "content-type": "text/plain"}
    assert_error(client.post(post, content=b"{}", headers=plain), 415, "unsupported_media_type")
    assert_error(client.post(post, content=b"{}", headers=AUTH), 415)
    big = b'{"name": "big", "port": 26400, "schema": "' + b"x" * (4 << 20) + b'"}'
    assert_error(client.post(post, content=big, headers=json_type), 413, "too_large")

    def chunks():  # no Content-Length: the cap holds as the body streams in
        yield b'{"name": "big", "schema": "'
        for _ in range(5):
            yield b"x" * (1 << 20)
        yield b'"}'

    assert_error(client.post(post, content=chunks(), headers=json_type), 413, "too_large")
    # a schema of 1 MB is fine
    schema = {"type": "record", "name": "r", "doc": "d" * (1 << 20),
              "fields": [{"name": "x", "type": "int"}]}  # fmt: skip
    r = client.post(post, json=channel_body("large", 26401, schema), headers=AUTH)
    assert r.status_code == 201, r.text


def test_taken_name_and_port(client):
    assert client.post(f"{API}/channels", json=channel_body("one", 26500),
                       headers=AUTH).status_code == 201  # fmt: skip
    body = assert_error(client.post(f"{API}/channels", json=channel_body("one", 26501),
                                    headers=AUTH), 409, "name_taken")  # fmt: skip
    assert body["used_by"] == "one"
    body = assert_error(client.post(f"{API}/channels", json=channel_body("two", 26500),
                                    headers=AUTH), 409, "port_taken")  # fmt: skip
    assert body["used_by"] == "one"
    body = assert_error(client.post(f"{API}/channels", json=channel_body("two", 26000),
                                    headers=AUTH), 409, "port_taken")  # fmt: skip
    assert body["used_by"] == "example"
    # the database is not locked after a failed insert (the original's fault)
    assert client.post(f"{API}/channels", json=channel_body("two", 26502),
                       headers=AUTH).status_code == 201  # fmt: skip


def test_unknown_routes_and_methods(client):
    assert_error(client.get(f"{API}/nope"), 404, "not_found")
    assert_error(client.get(f"{API}/channels/nope/schema"), 404)
    for name in ("a%00b", "%C3%A9t%C3%A9", "x" * 300, "UPPER"):  # never a database error
        assert_error(client.get(f"{API}/channels/{name}"), 404, "not_found")
        assert_error(client.delete(f"{API}/channels/{name}", headers=AUTH), 404)
    assert_error(client.get(f"{API}/channels/nope/schemas"), 404)
    assert_error(client.put(f"{API}/channels", json={}, headers=AUTH), 405)
    assert_error(client.get(f"{API}/channels?status=sleeping"), 422)
    assert_error(client.patch(f"{API}/channels/nope", json={}, headers=AUTH), 404)
    assert_error(client.post(f"{API}/channels/nope/validate-schema", json={"schema": RECORD}),
                 404)  # fmt: skip


def test_auth(make_client, tmp_path):
    client = make_client()
    body = channel_body("guarded", 26600)
    assert_error(client.post(f"{API}/channels", json=body), 401, "unauthorized")
    wrong = {"Authorization": "Bearer nope"}
    assert_error(client.post(f"{API}/channels", json=body, headers=wrong), 401)
    assert_error(client.delete(f"{API}/channels/example"), 401)
    assert_error(client.patch(f"{API}/channels/example", json={}), 401)
    assert client.get(f"{API}/channels/example").status_code == 200  # reads are open
    assert client.get(f"{API}/channels").status_code == 200
    assert client.post(f"{API}/channels", json=body, headers=AUTH).status_code == 201


def test_auth_none(make_client):
    client = make_client(auth="none")
    r = client.post(f"{API}/channels", json=channel_body("open", 26601))
    assert r.status_code == 201, r.text
    assert client.delete(f"{API}/channels/open").status_code == 200


def test_health_metrics_openapi(client):
    health = client.get(f"{API}/health").json()
    assert health["status"] == "ok" and health["channels"] == 2
    text = client.get(f"{API}/metrics").text
    assert value(client.get("/metrics").text, "speeddata_registry_channels") == 2
    assert value(text, "speeddata_registry_channels") == 2
    assert value(text, "speeddata_registry_channel_status", channel="example", status="starting")
    assert_listed(text, "registry")
    assert value(text, "speeddata_http_requests_total", service="registry", method="GET",
                 route="/api/v1/health", status="200") == 1  # fmt: skip
    doc = client.get(f"{API}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/api/v1/channels"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ChannelCreate"
    )
    create = doc["components"]["schemas"]["ChannelCreate"]
    assert set(create["required"]) == {"name", "port", "schema"}
    assert create["properties"]["name"]["pattern"] == "^[a-z][a-z0-9_-]{0,62}$"
    for status in ("201", "400", "401", "409", "413", "415", "422"):
        assert status in post["responses"]


def test_every_operation_answers_bad_input_in_the_error_shape(client):
    from services.registry.app import OPERATIONS

    json_type = {**AUTH, "content-type": "application/json"}
    for op in OPERATIONS:
        path = API + op.path.replace("{name}", "example").replace("{port}", "x")
        if op.body is not None:
            r = client.request(op.method, path, content=b"{not json", headers=json_type)
            assert_error(r, 400, "malformed")
            r = client.request(op.method, path, content=b"{}", headers={**AUTH,
                               "content-type": "text/csv"})  # fmt: skip
            assert_error(r, 415)
        elif "{port}" in op.path:
            assert_error(client.request(op.method, path, headers=AUTH), 400, "malformed")
        if "{name}" in op.path:
            missing = API + op.path.replace("{name}", "nope")
            body = {"schema": RECORD} if op.body is not None else None
            assert_error(client.request(op.method, missing, json=body, headers=AUTH), 404)
        if op.mutating and op.body is None:
            assert_error(client.request(op.method, path), 401)


def test_the_list_follows_every_change_also_made_by_another_registry(make_client):
    """GET /channels keeps each channel's stored part between requests: it must still show
    every change, also those another registry on the same database made."""
    writer, reader = make_client(), make_client()

    def listed() -> dict:
        return {c["name"]: c for c in reader.get(f"{API}/channels").json()["channels"]}

    assert "fresh" not in listed()
    r = writer.post(f"{API}/channels", json=channel_body("fresh", 26610), headers=AUTH)
    assert r.status_code == 201, r.text
    assert listed()["fresh"]["port"] == 26610
    r = writer.patch(f"{API}/channels/fresh", json={"config": {"decimation": 5}}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert listed()["fresh"]["config"]["decimation"] == 5
    assert writer.delete(f"{API}/channels/fresh", headers=AUTH).status_code == 200
    assert "fresh" not in listed()
    r = writer.post(f"{API}/channels", json=channel_body("fresh", 26611), headers=AUTH)
    assert r.status_code == 201, r.text
    assert listed()["fresh"]["port"] == 26611
    assert listed()["fresh"]["config"].get("decimation") in (None, 1)
