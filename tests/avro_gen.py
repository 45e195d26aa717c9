"""Random valid values of any Avro schema, encoded by fastavro, and byte-level mutations of
encodings: inputs for the validator's differential test and the fuzz seed corpus
(native/zmq_relay/fuzz/make_corpus.py). Values stay within the relay's contract: nesting at most
LIMIT levels (records, arrays, maps and unions each count one), few items per array or map."""

from __future__ import annotations

import copy
import io
import random
from typing import Any

import fastavro

LIMIT = 64
"""ZR_MAX_DEPTH (native/zmq_relay/include/zr_schema.h)."""
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_TEXT = ["", "a", "hi", "é", "€", "𝄞", "\x00", "ascii text", "ünïcödé", "日本"]


def _strip_logical(schema: Any) -> Any:
    """The schema without logicalType attributes: the same encoding, raw values."""
    if isinstance(schema, dict):
        return {k: _strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_strip_logical(v) for v in schema]
    return schema


class Generator:
    """Random values of one schema (a JSON value) and their encodings."""

    def __init__(self, schema: Any, seed: int = 0) -> None:
        self.named: dict[str, Any] = {}
        self.parsed = fastavro.parse_schema(
            _strip_logical(copy.deepcopy(schema)), named_schemas=self.named
        )
        self.rng = random.Random(seed)

    def _resolve(self, t: Any) -> Any:
        return self.named[t] if isinstance(t, str) and t not in PRIMITIVES else t

    def _kind(self, t: Any) -> str:
        t = self._resolve(t)
        if isinstance(t, list):
            return "union"
        return t if isinstance(t, str) else t["type"]

    def value(self, t: Any = None, level: int = 0) -> Any:
        """A random value of type t (the schema when None); ``level``: levels of its ancestors."""
        t = self._resolve(self.parsed if t is None else t)
        kind = self._kind(t)
        deep = level >= LIMIT - 4 or self.rng.random() < level / 8
        r = self.rng
        if kind in ("record", "array", "map", "union"):
            level += 1
        if kind == "null":
            return None
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "int":
            return r.choice([0, 1, -1, 63, -64, 64, 2**31 - 1, -(2**31), r.randint(-999, 999)])
        if kind == "long":
            return r.choice([0, -98, 2**63 - 1, -(2**63), r.randint(-(2**40), 2**40)])
        if kind in ("float", "double"):
            return r.choice([0.0, -1.5, 1e300 if kind == "double" else 3.0, r.random()])
        if kind == "bytes":
            return bytes(r.randrange(256) for _ in range(r.randrange(6)))
        if kind == "string":
            return r.choice(_TEXT)
        if kind == "fixed":
            return bytes(r.randrange(256) for _ in range(t["size"]))
        if kind == "enum":
            return r.choice(t["symbols"])
        if kind == "array":
            n = 0 if deep else r.randrange(4)
            return [self.value(t["items"], level) for _ in range(n)]
        if kind == "map":
            n = 0 if deep else r.randrange(4)
            return {f"k{i}": self.value(t["values"], level) for i in range(n)}
        if kind == "union":
            return self._branch(t, level, deep)
        return {f["name"]: self.value(f["type"], level) for f in t["fields"]}

    def _branch(self, branches: list[Any], level: int, deep: bool) -> Any:
        """A value of one branch: when deep, a branch that nests no further if there is one."""
        flat = [b for b in branches if self._kind(b) not in ("record", "array", "map")]
        b = self.rng.choice(flat if deep and flat else branches)
        if level >= LIMIT and self._kind(b) in ("record", "array", "map"):
            b = flat[0]
        v = self.value(b, level)
        kind = self._kind(b)
        # fastavro picks the branch from the value: name records and enums, tag the rest.
        if kind in ("record", "enum", "fixed"):
            return (self._resolve(b)["name"], v)
        return v

    def encode(self, value: Any) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, value)
        return out.getvalue()

    def decode_exactly(self, data: bytes) -> tuple[Any, int]:
        """The value fastavro decodes from the start of data, and the bytes it read."""
        f = io.BytesIO(data)
        return fastavro.schemaless_reader(f, self.parsed, None), f.tell()


def mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    """``count`` byte-level variants of an encoding: a byte changed, cut, inserted, doubled."""
    out = []
    for _ in range(count):
        d = bytearray(data)
        op = rng.randrange(5)
        pos = rng.randrange(len(d) + 1)
        if op == 0 and d:
            d[min(pos, len(d) - 1)] = rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif op == 1:
            d = d[:pos]
        elif op == 2:
            d[pos:pos] = bytes([rng.randrange(256)])
        elif op == 3:
            d += d[pos:]
        else:
            d[pos:pos] = b"\x02" * rng.randrange(1, 4)
        out.append(bytes(d))
    return out
