"""A channel's identity on the wire: its schema fingerprint and default multicast endpoints.

Ingest and the registry both call these, so every part of the system agrees."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from fastavro.schema import fingerprint as _fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from speeddata.config import Settings

RESERVED_FIELDS = frozenset({"rx_time"})


@dataclass(frozen=True)
class Endpoint:
    """A multicast ``group:port``."""

    group: str
    port: int

    def __str__(self) -> str:
        return f"{self.group}:{self.port}"


def fingerprint(schema: Any) -> str:
    """The CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, spelled as the 16 hex
    digits of its 8 wire bytes in order (``"int"`` -> ``8f5c393f1ad57572``).

    ``schema`` is the schema as parsed JSON (dict, list or a type name such as ``"int"``) or
    its JSON text."""
    if isinstance(schema, str | bytes):
        with contextlib.suppress(ValueError):  # not JSON: a type name
            schema = json.loads(schema)
    canonical = to_parsing_canonical_form(parse_schema(schema, _write_hint=False))
    return str(_fingerprint(canonical, "CRC-64-AVRO"))


def fingerprint_bytes(schema: Any) -> bytes:
    """The 8 wire bytes of :func:`fingerprint` (as they follow ``C3 01`` in a datagram)."""
    return bytes.fromhex(fingerprint(schema))


def multicast_endpoints(port: int, settings: Settings) -> tuple[Endpoint, Endpoint]:
    """The default (full-rate, decimated) endpoints of the channel on UDP `port`."""
    m = settings.multicast
    return (
        Endpoint(m.full_group, port + int(m.full_offset)),
        Endpoint(m.dec_group, port + int(m.dec_offset)),
    )
