"""One schema authority: speeddata.schema accepts exactly the channel schemas the relay runs.

Fuzzing found 23 schemas the relay refused but the old Python check (fastavro.parse_schema)
accepted, and 5 the other way. Each hand-made case below stands for one kind; a seeded generator
adds a bounded set of random records and mutations of them. For every one, speeddata's verdict
(and reason) must be the relay's own, asked directly with the schema in a file; where the right
verdict is known it is asserted outright."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from speeddata.schema import RESERVED_FIELDS, TIME_UNITS, SchemaError, check_schema, load_schema
from tests.procs import parse_logfmt

ACCEPT, REFUSE, EITHER = "accept", "refuse", "either"
"""EITHER: the relay decides (a choice of schema.c's, not of the contract); only agreement is
asserted."""


def rec(*fields: Any, name: str = "r", **attrs: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, **attrs, "fields": list(fields)}


def f(name: str, type_: Any, **attrs: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **attrs}


FIXED4 = {"type": "fixed", "name": "F", "size": 4}
ENUM = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
INNER = rec(f("x", "int"), name="inner")

# (id, schema as parsed JSON or raw text, time field, expected verdict)
CASES: list[tuple[str, Any, str | None, str]] = [
    # accepted by fastavro, refused by the relay
    ("duplicate field names", rec(f("a", "int"), f("a", "long")), None, REFUSE),
    ("duplicate field names, nested", rec(f("n", rec(f("b", "int"), f("b", "int"), name="n"))),
     None, REFUSE),
    ("duplicate union branches", rec(f("u", ["int", "int"])), None, REFUSE),
    ("duplicate null branches", rec(f("u", ["null", "string", "null"])), None, REFUSE),
    ("duplicate named branches", rec(f("a", FIXED4), f("u", ["F", "F"])), None, REFUSE),
    ("duplicate array branches", rec(f("u", [{"type": "array", "items": "int"},
                                             {"type": "array", "items": "long"}])), None, REFUSE),
    ("fixed of size -14", rec(f("x", {**FIXED4, "size": -14})), None, REFUSE),
    ("fixed of size 2147483648.5", rec(f("x", {**FIXED4, "size": 2147483648.5})), None, REFUSE),
    ("fixed of size 4.0", rec(f("x", {**FIXED4, "size": 4.0})), None, REFUSE),
    ("fixed of size '4'", rec(f("x", {**FIXED4, "size": "4"})), None, REFUSE),
    ("fixed without size", rec(f("x", {"type": "fixed", "name": "F"})), None, REFUSE),
    ("empty record name", rec(f("a", "int"), name=""), None, REFUSE),
    ("invalid record name", rec(f("a", "int"), name="1r"), None, REFUSE),
    ("non-ASCII record name", rec(f("a", "int"), name="r\u00e9"), None, REFUSE),
    ("empty field name", rec(f("", "int")), None, REFUSE),
    ("invalid field name", rec(f("a-b", "int")), None, REFUSE),
    ("invalid namespace", rec(f("a", "int"), namespace="a..b"), None, REFUSE),
    ("empty name of a nested fixed", rec(f("x", {**FIXED4, "name": ""})), None, REFUSE),
    ("invalid enum symbol", rec(f("e", {**ENUM, "symbols": ["1A"]})), None, REFUSE),
    ("duplicate enum symbols", rec(f("e", {**ENUM, "symbols": ["A", "A"]})), None, REFUSE),
    # the {"type": "<name>"} form: Java's parser accepts it, fastavro and Apache avro (Python)
    # refuse it, so the relay does too (else its archives would be unreadable to them)
    ("reference {type: fixed name}", rec(f("a", FIXED4), f("b", {"type": "F"})), None, REFUSE),
    ("reference {type: enum name}", rec(f("a", ENUM), f("b", {"type": "E"})), None, REFUSE),
    ("reference {type: record name}", rec(f("a", INNER), f("b", {"type": "inner"})), None, REFUSE),
    ("self reference {type: own name}", rec(f("next", ["null", {"type": "r"}])), None, REFUSE),
    ("reference {type: full name}", rec(f("a", FIXED4), f("b", {"type": "ns.F"}), namespace="ns"),
     None, REFUSE),
    # unions and nesting
    ("nested union", rec(f("u", ["null", ["int", "long"]])), None, REFUSE),
    ("empty union", rec(f("u", [])), None, EITHER),
    ("union of null and a record", rec(f("u", ["null", INNER])), None, ACCEPT),
    ("union of two records", rec(f("u", [INNER, rec(f("y", "int"), name="other")])), None, ACCEPT),
    ("array of unions", rec(f("a", {"type": "array", "items": ["null", "int"]})), None, ACCEPT),
    ("map of arrays", rec(f("m", {"type": "map", "values": {"type": "array", "items": "int"}})),
     None, ACCEPT),
    ("array without items", rec(f("a", {"type": "array"})), None, REFUSE),
    ("map without values", rec(f("m", {"type": "map"})), None, REFUSE),
    # logical types: an unknown one is ignored, as the specification asks
    ("unknown logical type", rec(f("a", {"type": "long", "logicalType": "no-such"})), None, ACCEPT),
    ("decimal on bytes", rec(f("d", {"type": "bytes", "logicalType": "decimal", "precision": 4,
                                     "scale": 2})), None, ACCEPT),
    ("uuid on string", rec(f("u", {"type": "string", "logicalType": "uuid"})), None, ACCEPT),
    # names and definitions
    ("unknown type name", rec(f("a", "nope")), None, REFUSE),
    ("type defined twice", rec(f("a", FIXED4), f("b", FIXED4)), None, REFUSE),
    ("named type called int", rec(f("a", {**FIXED4, "name": "int"})), None, REFUSE),
    ("use before definition", rec(f("b", "F"), f("a", FIXED4)), None, REFUSE),
    ("recursive record", rec(f("v", "int"), f("next", ["null", "r"])), None, ACCEPT),
    ("full-name reference", rec(f("a", FIXED4), f("b", "ns.F"), namespace="ns"), None, ACCEPT),
    ("dotted name", rec(f("a", "int"), name="a.b.c"), None, ACCEPT),
    ("fixed of size 0", rec(f("x", {**FIXED4, "size": 0})), None, EITHER),
    ("enum without symbols", rec(f("e", {**ENUM, "symbols": []})), None, EITHER),
    # channel rules: a record at the top, rx_time reserved, the time field a long
    ("top level int", "int", None, REFUSE),
    ("top level union", ["null", INNER], None, REFUSE),
    ("top level enum", ENUM, None, REFUSE),
    ("record without fields", {"type": "record", "name": "r"}, None, REFUSE),
    ("fields not a list", {"type": "record", "name": "r", "fields": {}}, None, REFUSE),
    ("field without type", rec({"name": "a"}), None, REFUSE),
    ("record with no field", rec(), None, ACCEPT),
    ("reserved rx_time", rec(f("rx_time", "long")), None, REFUSE),
    ("time field not a long", rec(f("t", "int")), "t", REFUSE),
    ("time field a union", rec(f("t", ["null", "long"])), "t", REFUSE),
    ("time field missing", rec(f("t", "long")), "time", REFUSE),
    ("time field a long", rec(f("t", {"type": "long", "logicalType": "timestamp-millis"})), "t",
     ACCEPT),
    # JSON that Python's json module reads but the relay's does not
    ("duplicate JSON keys", '{"type": "record", "name": "r", "name": "s", "fields": []}', None,
     REFUSE),
    ("NaN in JSON", '{"type": "record", "name": "r", "fields": [], "x": NaN}', None, REFUSE),
    ("not JSON", '{"type": "record",', None, REFUSE),
]  # fmt: skip


def relay_verdict(relay_binary: Path, tmp_path: Path, text: str, time_field: str | None):
    """The relay's own verdict, the schema in a file (not speeddata's stdin path): (accepted,
    its reason)."""
    path = tmp_path / "schema.avsc"
    path.write_text(text, encoding="utf-8")
    argv = [str(relay_binary), "--check-schema", str(path)]
    if time_field:
        argv.append(f"--time-field={time_field}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    assert done.returncode in (0, 2), done
    lines = done.stderr.splitlines()
    assert len(lines) == (0 if done.returncode == 0 else 1), done.stderr
    reason = parse_logfmt(lines[0])["error"] if lines else ""
    return done.returncode == 0, reason.removeprefix(f"schema {path}: ")


def speeddata_verdict(source: Any, time_field: str | None) -> tuple[bool, str]:
    try:
        check_schema(source, time_field=time_field)
    except SchemaError as exc:
        return False, str(exc)
    return True, ""


def _text(schema: Any) -> str:
    return schema if isinstance(schema, str) and schema.lstrip()[:1] in "{[" else json.dumps(schema)


@pytest.mark.parametrize(("schema", "time_field", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_speeddata_accepts_exactly_what_the_relay_runs(
    relay_binary: Path, tmp_path: Path, schema: Any, time_field: str | None, expected: str
) -> None:
    text = _text(schema)
    relay_ok, relay_reason = relay_verdict(relay_binary, tmp_path, text, time_field)
    for source in (text, schema) if not isinstance(schema, str) else (text,):
        ok, reason = speeddata_verdict(source, time_field)
        assert ok == relay_ok, f"speeddata {ok}, relay {relay_ok}: {reason or relay_reason}"
        assert reason.endswith(relay_reason), (reason, relay_reason)
    if expected != EITHER:
        assert relay_ok == (expected == ACCEPT), relay_reason


def test_load_schema_of_a_file_is_the_relay_s_verdict_on_that_file(
    relay_binary: Path, tmp_path: Path
) -> None:
    path = tmp_path / "c.avsc"
    path.write_text(_text(CASES[0][1]))
    with pytest.raises(SchemaError, match=f'^schema {path}: field "a" is declared twice$'):
        load_schema(path)


def test_the_reserved_names_and_time_units_are_the_relay_s() -> None:
    for name in RESERVED_FIELDS:
        with pytest.raises(SchemaError, match="reserved"):
            check_schema(rec(f(name, "long")))
    for unit in TIME_UNITS:
        check_schema(rec(f("t", "long")), time_field="t", time_unit=unit)
    with pytest.raises(SchemaError, match="--time-unit"):
        check_schema(rec(f("t", "long")), time_field="t", time_unit="h")


# -- a generated set ---------------------------------------------------------------------------

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
NAMES = ["a", "b", "c", "A", "_x", "n1"]


def _type(rng: random.Random, depth: int, counter: list[int]) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return rng.choice(PRIMITIVES)
    counter[0] += 1
    named = f"T{counter[0]}"
    if roll < 0.5:
        return {"type": "fixed", "name": named, "size": rng.choice([0, 1, 4, 16])}
    if roll < 0.6:
        return {"type": "enum", "name": named, "symbols": rng.sample(["A", "B", "C", "D"], 2)}
    if roll < 0.7:
        return {"type": "array", "items": _type(rng, depth + 1, counter)}
    if roll < 0.8:
        return {"type": "map", "values": _type(rng, depth + 1, counter)}
    if roll < 0.9:
        return ["null", _type(rng, depth + 1, counter)]
    return rec(*_fields(rng, depth + 1, counter), name=named)


def _fields(rng: random.Random, depth: int, counter: list[int]) -> list[dict[str, Any]]:
    names = rng.sample(NAMES, rng.randint(1, 4))
    return [f(n, _type(rng, depth, counter)) for n in names]


def _named(schema: Any) -> list[dict[str, Any]]:
    """The named types defined in schema (records, enums, fixed), outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for branch in schema:
            found += _named(branch)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            found.append(schema)
        for key in ("items", "values"):
            found += _named(schema.get(key))
        for field in schema.get("fields", []) if isinstance(schema.get("fields"), list) else []:
            found += _named(field.get("type"))
    return found


def _mutate(rng: random.Random, schema: dict[str, Any]) -> None:
    """One change of the kinds that split fastavro and the relay."""
    fields = schema["fields"]
    named = _named(schema)
    kind = rng.randrange(8)
    if kind == 0:
        fields.append(dict(rng.choice(fields)))  # duplicate field name
    elif kind == 1:
        fields.append(f("u", [t := rng.choice(PRIMITIVES[1:]), t]))  # duplicate branch
    elif kind == 2:
        fields.append(f("z", {"type": "fixed", "name": "Z", "size": rng.choice([-14, 2.5, "8"])}))
    elif kind == 3:
        rng.choice(named)["name"] = rng.choice(["", "9x", "a-b", "a..b"])
    elif kind == 4:
        target = rng.choice(named)
        fields.append(f("ref", {"type": target["name"]}))  # the {"type": "<name>"} form
    elif kind == 5:
        fields.append(f("nest", ["null", ["int", "string"]]))
    elif kind == 6:
        fields.append(f("rx_time", "long"))
    else:
        fields.append(f("lt", {"type": rng.choice(["int", "long"]), "logicalType": "no-such"}))


def generated(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        schema = rec(*_fields(rng, 0, [0]), name="chan")
        if rng.random() < 0.6:
            _mutate(rng, schema)
        out.append(schema)
    return out


def test_generated_schemas_get_the_relay_s_verdict(relay_binary: Path, tmp_path: Path) -> None:
    verdicts = []
    for schema in generated(120):
        text = json.dumps(schema)
        relay_ok, relay_reason = relay_verdict(relay_binary, tmp_path, text, None)
        ok, reason = speeddata_verdict(text, None)
        assert (ok, reason.endswith(relay_reason)) == (relay_ok, True), (text, reason, relay_reason)
        verdicts.append(ok)
    # the set holds both kinds, so agreement means something
    assert verdicts.count(True) >= 20 and verdicts.count(False) >= 20, verdicts.count(True)
