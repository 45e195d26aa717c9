"""The device side of the wire protocol: records of a channel's schema sent as UDP datagrams.

    with Sender("config/agents/example.avsc", "127.0.0.1", 26000) as s:
        s.send(record)            # one datagram now
        s.send_many(records)      # packed: as many whole records per datagram as fit
        s.add(record)             # packed into a pending datagram ...
        s.flush()                 # ... sent now (also sent when full, and on close)

Every record is validated against the schema before anything is sent: a record that does not
fit raises :class:`RecordError` and no datagram leaves (for ``send_many``: none of the batch).
Datagrams keep the order of the calls."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import fastavro
from fastavro.schema import SchemaParseException
from fastavro.validation import ValidationError, validate

from speeddata.schema import Schema, SchemaError, fingerprint_bytes, read_schema

Encoding = Literal["bare", "single-object"]

DEFAULT_MAX_DATAGRAM = 1472
"""An Ethernet MTU of 1500 less the IPv4 (20) and UDP (8) headers: packed datagrams are never
fragmented on a plain Ethernet path."""

MAX_UDP_PAYLOAD = 65507
"""The largest UDP payload over IPv4; a record bigger than this cannot be sent."""

SINGLE_OBJECT_MAGIC = b"\xc3\x01"


class RecordError(ValueError):
    """A record that does not fit the schema, or cannot be carried by one datagram."""


class Sender:
    """Sends a channel's records to ``host:port`` from one UDP socket.

    ``schema``: the channel schema (dict, JSON text or path of an ``.avsc``).
    ``encoding``: ``"bare"`` (Avro binary, what existing senders send) or ``"single-object"``
    (``C3 01``, the schema's 8-byte fingerprint, the record; one header per record).
    ``max_datagram``: the size packed datagrams stay within (:data:`DEFAULT_MAX_DATAGRAM`); a
    single record larger than that still goes alone, up to :data:`MAX_UDP_PAYLOAD`."""

    def __init__(
        self,
        schema: Schema | Path,
        host: str,
        port: int,
        *,
        encoding: Encoding = "bare",
        max_datagram: int = DEFAULT_MAX_DATAGRAM,
    ) -> None:
        if encoding not in ("bare", "single-object"):
            raise ValueError(f"encoding must be 'bare' or 'single-object', not {encoding!r}")
        if not 1 <= max_datagram <= MAX_UDP_PAYLOAD:
            raise ValueError(f"max_datagram must be within 1..{MAX_UDP_PAYLOAD}")
        # Any schema fastavro encodes with (no relay needed on a device; the relay judges the
        # channel schema where it runs).
        self.schema = read_schema(schema)
        self.encoding = encoding
        self.max_datagram = max_datagram
        try:
            self._parsed = fastavro.parse_schema(self.schema)
        except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"not a schema to encode with: {exc}") from exc
        self._prefix = (
            b"" if encoding == "bare" else SINGLE_OBJECT_MAGIC + fingerprint_bytes(self.schema)
        )
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._address: tuple[Any, ...] = address
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._pending = bytearray()
        self._buffer = io.BytesIO()

    def encode(self, record: Any) -> bytes:
        """The wire bytes of one record in this sender's encoding; raises :class:`RecordError`
        when the record does not fit the schema or any datagram."""
        try:
            validate(record, self._parsed, raise_errors=True)
        except ValidationError as exc:
            raise RecordError(f"record does not fit the schema: {exc}") from exc
        self._buffer.seek(0)
        self._buffer.truncate()
        fastavro.schemaless_writer(self._buffer, self._parsed, record)
        data = self._prefix + self._buffer.getvalue()
        if len(data) > MAX_UDP_PAYLOAD:
            raise RecordError(f"record of {len(data)} bytes exceeds a UDP datagram")
        return data

    def send(self, record: Any) -> None:
        """Send one record as a datagram of its own, now (after any pending datagram)."""
        data = self.encode(record)
        self.flush()
        self._sock.sendto(data, self._address)

    def send_many(self, records: Iterable[Any]) -> int:
        """Validate all ``records``, then send them packed (after any pending datagram's
        records) and flush. Returns the number of datagrams sent."""
        encoded = [self.encode(r) for r in records]
        sent = sum(self._append(data) for data in encoded)
        return sent + self.flush()

    def add(self, record: Any) -> None:
        """Pack one record into the pending datagram, sending the pending datagram first when
        the record would not fit in it. :meth:`flush` sends what remains."""
        self._append(self.encode(record))

    def flush(self) -> int:
        """Send the pending datagram, if any. Returns the number of datagrams sent (0 or 1)."""
        if not self._pending:
            return 0
        self._sock.sendto(self._pending, self._address)
        self._pending.clear()
        return 1

    def close(self) -> None:
        """Flush, then close the socket."""
        try:
            self.flush()
        finally:
            self._sock.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, data: bytes) -> int:
        """Add encoded bytes to the pending datagram; returns the datagrams sent to make room."""
        sent = 0
        if self._pending and len(self._pending) + len(data) > self.max_datagram:
            sent = self.flush()
        self._pending += data
        return sent
