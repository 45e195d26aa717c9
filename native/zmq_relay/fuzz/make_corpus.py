"""Writes the fuzz seed corpus (fuzz/corpus/) and the regression inputs of issue 7
(fuzz/regress/): run it from the repository root after changing fuzz/schemas/,
``.venv/bin/python native/zmq_relay/fuzz/make_corpus.py``. The corpus is small on purpose:
libFuzzer grows its own in build/fuzz/ (``make fuzz``).

A validator input is byte 0: the schema's position in fuzz/schemas/ (name order), byte 1: 1
when the channel has the harness's fingerprint, then the datagram (fuzz_validate.c)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.avro_gen import Generator  # noqa: E402

FUZZ = ROOT / "native" / "zmq_relay" / "fuzz"
FP = bytes.fromhex("8f5c393f1ad57572")
HEADER = b"\xc3\x01" + FP


def schemas() -> list[tuple[str, dict]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted((FUZZ / "schemas").glob("*.avsc"))]


def write(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def validate_corpus() -> None:
    out = FUZZ / "corpus" / "validate"
    for i, (stem, schema) in enumerate(schemas()):
        gen = Generator(schema, seed=i)
        recs = []
        while len(recs) < 3:
            enc = gen.encode(gen.value())
            if len(enc) < 600:
                recs.append(enc)
        zero = all(len(r) == 0 for r in recs)
        if not zero:
            write(out, f"{stem}-bare", bytes([i, 0]) + recs[0])
            write(out, f"{stem}-bare3", bytes([i, 1]) + b"".join(recs))
        write(out, f"{stem}-single", bytes([i, 1]) + HEADER + recs[1])
        write(out, f"{stem}-single2", bytes([i, 1]) + HEADER + recs[1] + HEADER + recs[2])


def zigzag(v: int) -> bytes:
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    return bytes(out + bytes([z]))


def validate_regress() -> None:
    out = FUZZ / "regress" / "validate"
    index = {stem: i for i, (stem, _) in enumerate(schemas())}
    z = index["06_zero"]
    # the poison record: an array<null> of 2^63-1 items (then the other fields)
    write(out, "issue7-poison-items", bytes([z, 0]) + zigzag(2**63 - 1) + b"\x00" * 5 + b"\x01")
    # records nested through 62 arrays each, and through the list's union
    d = index["09_deep"]
    body = b"".join(b"\x02" * 62 + (b"\x02" if r < 4 else b"\x00") for r in range(5))
    write(out, "issue7-deep-arrays", bytes([d, 0]) + body + b"\x00" * 62 * 5)
    lst = index["04_list"]
    write(out, "issue7-deep-list", bytes([lst, 0]) + b"\x02\x02" * 39 + b"\x02\x00")


def schema_corpus() -> None:
    out = FUZZ / "corpus" / "schema"
    for stem, schema in schemas():
        write(out, stem, json.dumps(schema, separators=(",", ":")).encode())


def schema_regress() -> None:
    out = FUZZ / "regress" / "schema"
    t: object = ["null", "R"]
    for _ in range(500):
        t = {"type": "array", "items": t}
    deep = {"type": "record", "name": "R", "fields": [{"name": "a", "type": t}]}
    write(out, "issue7-500-arrays", json.dumps(deep, separators=(",", ":")).encode())
    names = {"type": "record", "name": "X", "fields": [
        {"name": "a", "type": {"type": "record", "name": "a.Y", "fields": [
            {"name": "r", "type": ["null", "X"]}]}},
        {"name": "b", "type": {"type": "record", "name": "a.X", "fields": [
            {"name": "k", "type": "int"}]}}]}  # fmt: skip
    write(out, "issue7-names", json.dumps(names).encode())
    text = '{"type":"record","name":"r","fields":[{"name":"a","type":' + "[" * 2100 + "]" * 2100
    write(out, "issue7-json-depth", (text + "}]}").encode())
    for n, size in (("fixed-negative", -14), ("fixed-fraction", 2147483648.5)):
        f = {"type": "fixed", "name": "f", "size": size}
        write(out, n, json.dumps({"type": "record", "name": "r", "fields": [
            {"name": "a", "type": f}]}).encode())  # fmt: skip


if __name__ == "__main__":
    validate_corpus()
    validate_regress()
    schema_corpus()
    schema_regress()
    print("wrote", FUZZ / "corpus", FUZZ / "regress")
