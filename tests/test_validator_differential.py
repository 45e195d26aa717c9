"""The relay's validator against fastavro, over the fuzz schemas (native/zmq_relay/fuzz/schemas:
every Avro type, named types, recursion, items that take no bytes, the nesting limit), their
seed corpus and regression inputs, random valid records and byte-level mutations of them.

- Every datagram the validator accepts decodes exactly with fastavro: each record span the
  relay would archive is one value read to its last byte, and reading record after record
  (single-object: after each header) ends exactly at the end of the datagram.
- Every datagram fastavro writes from valid values (within the contract's limits) is accepted.

The other direction, where the relay's contract is stricter than an Avro decoder, is listed in
proto/WIRE.md ("Stricter than Avro decoders"): fastavro also reads, for instance, a boolean
byte 2, an int beyond 32 bits, a varint of 11 bytes, a block whose byte size is wrong, a
negative union or enum index (Python indexing from the end), 2^63 nulls (until memory runs
out), values nested past 64 levels, and any number of zero-length bare records."""

from __future__ import annotations

import io
import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest

from speeddata.config import ROOT
from tests.avro_gen import Generator, mutations
from tests.conftest import RELAY_BINARY

TOOL = RELAY_BINARY.parent / "validate_tool"
FUZZ = ROOT / "native" / "zmq_relay" / "fuzz"
SCHEMAS = sorted((FUZZ / "schemas").glob("*.avsc"))
FP = bytes.fromhex("8f5c393f1ad57572")
"""The fuzz harnesses' channel fingerprint (fuzz_check.h)."""
HEADER = b"\xc3\x01" + FP
GENERATED = 300
"""Random valid datagrams per schema; each gets MUTATIONS byte-level variants."""
MUTATIONS = 5


@dataclass
class Verdict:
    ok: bool
    reason: str
    spans: list[tuple[int, int]]


def validate(schema: Path, datagrams: list[bytes]) -> list[Verdict]:
    """The relay validator's verdict on each datagram (validate_tool, channel fingerprint FP)."""
    if not TOOL.exists():
        pytest.fail(f"{TOOL} is not built: run `make relay`")
    out = subprocess.run(
        [str(TOOL), str(schema), FP.hex()],
        input="".join(d.hex() + "\n" for d in datagrams),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    verdicts = []
    for line in out.stdout.splitlines():
        word, *rest = line.split()
        if word == "ok":
            spans = [(int(a), int(b)) for a, b in (s.split("+") for s in rest)]
            verdicts.append(Verdict(True, "", spans))
        else:
            assert word == "reject", line
            verdicts.append(Verdict(False, rest[0], []))
    assert len(verdicts) == len(datagrams)
    return verdicts


def corpus(index: int) -> list[bytes]:
    """The datagrams of the seed corpus and regression inputs for schema ``index``
    (byte 0: the schema, byte 1: the fingerprint flag, always set by validate_tool here)."""
    files = [*(FUZZ / "corpus" / "validate").iterdir(), *(FUZZ / "regress" / "validate").iterdir()]
    return [d[2:] for d in (p.read_bytes() for p in sorted(files)) if len(d) >= 2 and d[0] == index]


def decode_all(gen: Generator, datagram: bytes, single: bool) -> list[tuple[int, int]]:
    """fastavro reads record after record to the end of the datagram; their spans."""
    f = io.BytesIO(datagram)
    spans = []
    while f.tell() < len(datagram):
        if single:
            assert f.read(len(HEADER)) == HEADER
        start = f.tell()
        fastavro.schemaless_reader(f, gen.parsed, None)
        spans.append((start, f.tell() - start))
    assert f.tell() == len(datagram)
    return spans


def assert_decodes_exactly(gen: Generator, datagram: bytes, verdict: Verdict) -> None:
    for off, length in verdict.spans:
        _, used = gen.decode_exactly(datagram[off : off + length])
        assert used == length, f"fastavro read {used} of the record's {length} bytes"
    single = len(datagram) >= len(HEADER) and datagram.startswith(HEADER)
    assert decode_all(gen, datagram, single) == verdict.spans


def generated(gen: Generator, rng: random.Random) -> list[tuple[bytes, bool]]:
    """Random valid datagrams (1-3 records, bare or single-object), each with whether the
    contract accepts it: a bare datagram of zero-length records cannot (nothing marks where
    one ends), a single-object one can."""
    out = []
    for _ in range(GENERATED):
        recs = [gen.encode(gen.value()) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            out.append((b"".join(recs), all(recs)))
        else:
            out.append((b"".join(HEADER + r for r in recs), True))
    return out


@pytest.mark.parametrize("schema", SCHEMAS, ids=[p.stem for p in SCHEMAS])
def test_the_validator_agrees_with_fastavro(schema: Path) -> None:
    index = SCHEMAS.index(schema)
    gen = Generator(json.loads(schema.read_text()), seed=index)
    rng = random.Random(index)
    valid = generated(gen, rng)
    mutated = [m for d, _ in valid for m in mutations(d, rng, MUTATIONS) if m]
    seeds = corpus(index)
    datagrams = [d for d, _ in valid] + mutated + seeds
    verdicts = validate(schema, datagrams)

    for (d, accepted), v in zip(valid, verdicts, strict=False):
        assert v.ok == accepted, f"valid datagram {d.hex()}: {v.reason or 'accepted'}"
        if not accepted:
            assert v.reason in ("trailing", "empty")
    checked = 0
    for d, v in zip(datagrams, verdicts, strict=True):
        if v.ok:
            assert_decodes_exactly(gen, d, v)
            checked += 1
    assert checked >= len(valid) // 2
    print(f"{schema.stem}: {len(datagrams)} datagrams, {checked} accepted and decoded exactly")


def test_the_tool_reports_rejections_by_the_relays_names(tmp_path: Path) -> None:
    """validate_tool speaks the relay's reject reasons (proto/topics.yaml), so that the
    verdicts above are the relay's."""
    schema: dict[str, Any] = {"type": "record", "name": "r", "fields": [
        {"name": "a", "type": {"type": "array", "items": "null"}},
        {"name": "b", "type": "boolean"}]}  # fmt: skip
    path = tmp_path / "r.avsc"
    path.write_text(json.dumps(schema))
    got = validate(
        path, [b"\x00\x01", b"\x00\x02", b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x01", b""]
    )
    assert [v.reason for v in got] == ["", "boolean", "items", "empty"]
    assert got[0].spans == [(0, 2)]


def _one(t: Any) -> dict[str, Any]:
    return {"type": "record", "name": "r", "fields": [{"name": "v", "type": t}]}


STRICTER = [
    ("boolean", _one("boolean"), b"\x02"),
    ("int_range", _one("int"), b"\x80\x80\x80\x80\x10"),
    ("varint", _one("long"), b"\x80" * 10 + b"\x00"),
    ("length", _one({"type": "array", "items": "int"}), b"\x03\x7e\x02\x04\x00"),
    ("union", _one(["null", "int"]), b"\x01\x04"),
    ("enum", _one({"type": "enum", "name": "e", "symbols": ["A", "B"]}), b"\x01"),
    ("items", _one({"type": "array", "items": "null"}), b"\x80\x02\x00"),  # 128 nulls in 3 bytes
]


@pytest.mark.parametrize(("reason", "schema", "datagram"), STRICTER, ids=[s[0] for s in STRICTER])
def test_where_the_contract_is_stricter_than_fastavro(
    tmp_path: Path, reason: str, schema: dict[str, Any], datagram: bytes
) -> None:
    """proto/WIRE.md's list: the relay rejects these, fastavro reads each to its end."""
    path = tmp_path / "s.avsc"
    path.write_text(json.dumps(schema))
    (verdict,) = validate(path, [datagram])
    assert verdict.reason == reason
    _, used = Generator(schema).decode_exactly(datagram)
    assert used == len(datagram)


def test_the_worst_datagrams_of_the_bench_get_the_verdicts_it_names(tmp_path: Path) -> None:
    """bench/worst_datagram.py's datagrams are what its table says: the largest accepted ones
    (as many records or items as the contract allows) and one nested past the limit."""
    from bench.worst_datagram import cases

    want = {
        "nulls": "ok 65507",
        "deep": "ok 524",
        "too_deep": "depth",
        "zero_items": "ok 65504",
        "utf8": "ok 1",
        "trees": "ok 65507",
    }
    got = {}
    for case in cases():
        path = tmp_path / f"{case.key}.avsc"
        path.write_text(json.dumps(case.schema))
        (v,) = validate(path, [case.datagram])
        got[case.key] = f"ok {len(v.spans)}" if v.ok else v.reason
        assert len(case.datagram) <= 65507
    assert got == want
