"""Reading archive files: Avro object container files, closed or still being written.

The relay appends one whole block per write, so a file being written may end in a torn block
(or, just after it was created, a torn header). :func:`open_archive` takes the file's size once,
parses the header, and walks the blocks up to the last complete one (a block whose bytes and
sync marker are all there; a sync mismatch also ends the readable part). Everything after that
boundary is ignored, never an error. Every reader of archive files uses this module.

    with open_archive(path) as f:
        f.header.channel, f.header.schema, f.complete_end
        for block in f.blocks(): ...
        for record in f.records(): ...

A file whose header is not complete yet raises :class:`IncompleteHeader` from
:func:`open_archive`; :func:`read_records` treats such a file as holding no record.

Values are read raw: logical types are ignored, every value is the one the device sent, as
stored. The relay archives any valid Avro, and a logical type holds only within a range (a
``timestamp-millis`` of a microsecond clock is a year past 9999, a ``time-millis`` may be
negative, a ``uuid`` string need not be a UUID, a ``decimal`` may have more digits than its
``precision``): a reader that converts would fail on such a value, and fastavro's default
reader then fails on the *whole file* (or, for a decimal, rounds it silently). So:

- ``timestamp-*``, ``local-timestamp-*``: the int of the type's unit since the epoch
  (convert where it fits, e.g. ``numpy.array(values, "datetime64[ms]")``);
- ``date``: int days since the epoch; ``time-millis``, ``time-micros``: int since midnight;
- ``decimal`` (bytes or fixed): the unscaled value's big-endian two's-complement bytes
  (``int.from_bytes(b, "big", signed=True)``, then scale by ``10 ** -scale``);
- ``uuid``: the string as sent (or the 16 bytes of a ``fixed``); ``duration``: its 12 bytes.

Strings decode strictly: the relay archives only valid UTF-8 (it rejects a datagram with
anything else as ``utf8``), by the same rules as Python's codec.

The schema in :attr:`Header.schema` keeps every logical type, so a reader knows what to convert.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

import fastavro

from speeddata._avro import encode_long, without_logical_types

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
_MAX_VARINT = 10
_READ_CHUNK = 1 << 20

_NAME = re.compile(r"^(?P<channel>[a-z][a-z0-9_-]*)-(?P<start>\d{8}T\d{6}Z)-(?P<seq>\d{6,})\.avro$")


class ArchiveError(ValueError):
    """A file that is not an Avro object container file (or not one this module can read)."""


class IncompleteHeader(ArchiveError):
    """The file is shorter than its header: just created, or cut inside the header."""


class _Short(Exception):
    """Parsing ran past the end of the bytes available."""


@dataclass(frozen=True)
class Header:
    """The container header. ``metadata`` holds every key (``avro.*`` and ``speeddata.*``)."""

    schema: dict[str, Any]
    schema_text: str
    metadata: dict[str, str]
    sync: bytes
    codec: str
    header_end: int

    @property
    def channel(self) -> str | None:
        return self.metadata.get("speeddata.channel")

    @property
    def time_field(self) -> str | None:
        return self.metadata.get("speeddata.time_field")

    @property
    def time_unit(self) -> str | None:
        return self.metadata.get("speeddata.time_unit")

    @property
    def fingerprint(self) -> str | None:
        return self.metadata.get("speeddata.fingerprint")


@dataclass(frozen=True, slots=True)
class Block:
    """One complete block: bytes ``[offset, end)`` including its sync marker, ``count``
    records whose (possibly compressed) data is ``[data_offset, data_offset + data_size)``."""

    offset: int
    end: int
    count: int
    data_offset: int
    data_size: int


class ArchiveName(NamedTuple):
    """What an archive file name says: ``<channel>-<UTC start>-<seq>.avro``."""

    channel: str
    start: datetime
    seq: int


class ArchiveFile:
    """An open archive file, read as it was when opened (its size is taken once).

    Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str], after: int | None = None) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        self._raw_head: bytes | None = None
        self._bounds: tuple[set[int], set[int]] | None = None
        try:
            st = os.fstat(self._fd)
            self.size = st.st_size
            self.inode = st.st_ino
            self.mtime_ns = st.st_mtime_ns
            self.header = _read_header(self._fd, self.size)
            # where the blocks this object knows start: the header's end, or ``after``
            self.first = self.header.header_end if after is None else after
            self._blocks = _scan_blocks(self._fd, self.size, self.first, self.header.sync)
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def complete_end(self) -> int:
        """Byte offset just after the last complete block (the header's end if none)."""
        return self._blocks[-1].end if self._blocks else self.first

    @property
    def torn_bytes(self) -> int:
        """Bytes after :attr:`complete_end`: a block being written, or a torn or corrupt tail."""
        return self.size - self.complete_end

    @property
    def record_count(self) -> int:
        """Records in the complete blocks."""
        return sum(b.count for b in self._blocks)

    def blocks(self) -> Iterator[Block]:
        """The complete blocks, in file order."""
        return iter(self._blocks)

    def records(self, start: int | None = None, end: int | None = None) -> Iterator[dict[str, Any]]:
        """Decoded records of the complete blocks in ``[start, end)`` (byte offsets that must
        be a block's ``offset`` and a block's ``end``; by default all complete blocks).

        Values are raw: logical types are ignored (see the module's documentation), so no
        value can make a file unreadable.

        The iterator reads through its own duplicate of the file descriptor, so it stays valid
        after :meth:`close`; calling this method on a closed file raises ``ValueError``."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: the archive file is closed")
        start = self.first if start is None else start
        end = self.complete_end if end is None else end
        self._check_range(start, end)
        stream = _Spliced(self._raw_header(), os.dup(self._fd), start, end)
        return cast(
            Iterator[dict[str, Any]], fastavro.reader(io.BufferedReader(stream, _READ_CHUNK))
        )

    def read_blocks(self, runs: Iterable[tuple[int, int]]) -> bytes:
        """The bytes of the complete blocks in each ``[start, end)`` of ``runs`` (byte offsets
        that must be a block's ``offset`` and a block's ``end``), back to back: blocks of a
        container whose header is :meth:`header_bytes`."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: the archive file is closed")
        parts = []
        for start, end in runs:
            self._check_range(start, end)
            data = os.pread(self._fd, end - start, start)
            if len(data) != end - start:
                raise ArchiveError(f"{self.path} was cut while being read")
            parts.append(data)
        return b"".join(parts)

    def _raw_header(self) -> bytes:
        """The file's header with the schema's logical types removed, encoded once."""
        if self._raw_head is None:
            text = json.dumps(without_logical_types(self.header.schema))
            self._raw_head = _encode_header(self.header, text)
        return self._raw_head

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ArchiveFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_range(self, start: int, end: int) -> None:
        if self._bounds is None:
            starts = {b.offset for b in self._blocks} | {self.complete_end}
            ends = {b.end for b in self._blocks} | {self.first}
            self._bounds = (starts, ends)
        starts, ends = self._bounds
        if start not in starts or end not in ends or end < start:
            raise ValueError(f"[{start}, {end}) is not a range of complete blocks of {self.path}")


def open_archive(path: str | os.PathLike[str], after: int | None = None) -> ArchiveFile:
    """Open an archive file up to its last complete block. Raises :class:`IncompleteHeader`
    when the header is not all there yet, :class:`ArchiveError` when the file is not an Avro
    object container file, ``OSError`` when it cannot be opened.

    ``after``: a block's end that an earlier open of the same file found (its blocks never
    change: archive files only grow, and a repair cuts only a torn tail): the object then
    knows only the blocks from there on, and walks only them (a file being written, read
    again)."""
    return ArchiveFile(path, after)


def read_known_blocks(
    path: str | os.PathLike[str], header: Header, inode: int, runs: Iterable[tuple[int, int]]
) -> bytes:
    """The bytes of runs ``[start, end)`` of complete blocks found by an earlier
    :func:`open_archive` of the same file (``inode``, ``header``), read without walking its
    blocks again (archive files only grow, and are never rewritten): the blocks of a container
    whose header is :func:`container_header`. Raises ``OSError`` when the file is gone,
    :class:`ArchiveError` when it is another file now or a run does not end in its sync
    marker."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.fstat(fd).st_ino != inode:
            raise ArchiveError(f"{path} is another file than the one indexed")
        parts = []
        for start, end in runs:
            data = os.pread(fd, end - start, start)
            if len(data) != end - start or data[-SYNC_SIZE:] != header.sync:
                raise ArchiveError(f"[{start}, {end}) is not a range of complete blocks of {path}")
            parts.append(data)
        return b"".join(parts)
    finally:
        os.close(fd)


def container_header(header: Header, schema_text: str | None = None) -> bytes:
    """The container header of a file with ``header``, ``schema_text`` as its ``avro.schema``
    (another schema of the same binary encoding), by default the schema with its logical types
    removed (values decode raw)."""
    if schema_text is None:
        schema_text = json.dumps(without_logical_types(header.schema))
    return _encode_header(header, schema_text)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of the file's complete blocks, values raw; ``[]`` while its header is
    incomplete."""
    try:
        archive = open_archive(path)
    except IncompleteHeader:
        return []
    with archive:
        return list(archive.records())


def archive_dir(data_dir: str | os.PathLike[str], channel: str) -> Path:
    """``<data>/archive/<channel>``: where a channel's files are."""
    return Path(data_dir) / "archive" / channel


def parse_archive_name(name: str) -> ArchiveName | None:
    """The channel, UTC start and sequence number in an archive file name, else ``None``."""
    m = _NAME.match(name)
    if not m:
        return None
    start = datetime.strptime(m["start"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return ArchiveName(m["channel"], start, int(m["seq"]))


def archive_files(data_dir: str | os.PathLike[str], channel: str) -> list[Path]:
    """The channel's archive files, oldest first (by sequence number); other names are
    ignored, and a channel without a folder has none."""
    folder = archive_dir(data_dir, channel)
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    named = [(parse_archive_name(p.name), p) for p in entries if p.is_file()]
    ours = [(n.seq, p.name, p) for n, p in named if n is not None and n.channel == channel]
    return [p for _, _, p in sorted(ours)]


# -- the container format ---------------------------------------------------------------------


def _long(buf: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint long at ``pos``: (value, position after it)."""
    n = shift = 0
    for i in range(pos, min(len(buf), pos + _MAX_VARINT)):
        byte = buf[i]
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (n >> 1) ^ -(n & 1), i + 1
        shift += 7
    if len(buf) - pos < _MAX_VARINT:
        raise _Short
    raise ArchiveError("varint longer than 10 bytes")


def _bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _long(buf, pos)
    if size < 0:
        raise ArchiveError("negative length in the header")
    if pos + size > len(buf):
        raise _Short
    return buf[pos : pos + size], pos + size


def _read_header(fd: int, size: int) -> Header:
    """Parse the header, reading more of the file until it fits."""
    want = min(size, 64 * 1024)
    while True:
        buf = os.pread(fd, want, 0)
        try:
            return _parse_header(buf)
        except _Short:
            if len(buf) >= size:
                raise IncompleteHeader(f"header incomplete ({size} bytes)") from None
            want = min(size, want * 4)


def _parse_header(buf: bytes) -> Header:
    if buf[: len(MAGIC)] != MAGIC[: len(buf)]:
        raise ArchiveError("not an Avro object container file (bad magic)")
    if len(buf) < len(MAGIC):
        raise _Short
    metadata, pos = _parse_metadata(buf, len(MAGIC))
    if pos + SYNC_SIZE > len(buf):
        raise _Short
    sync = buf[pos : pos + SYNC_SIZE]
    text = metadata.get("avro.schema")
    if text is None:
        raise ArchiveError("the header has no avro.schema")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"avro.schema is not JSON: {exc}") from exc
    codec = metadata.get("avro.codec", "null")
    return Header(schema, text, metadata, sync, codec, pos + SYNC_SIZE)


def _parse_metadata(buf: bytes, pos: int) -> tuple[dict[str, str], int]:
    metadata: dict[str, str] = {}
    while True:
        count, pos = _long(buf, pos)
        if count == 0:
            return metadata, pos
        if count < 0:
            count = -count
            _, pos = _long(buf, pos)  # the block's byte size
        for _ in range(count):
            key, pos = _bytes(buf, pos)
            value, pos = _bytes(buf, pos)
            metadata[key.decode("utf-8", "replace")] = value.decode("utf-8", "backslashreplace")


def _scan_blocks(fd: int, size: int, pos: int, sync: bytes) -> tuple[Block, ...]:
    """The complete blocks from ``pos`` (the header's end, or a known block's end); stops at
    the first block that is torn, malformed or not followed by the file's sync marker."""
    blocks: list[Block] = []
    while pos < size:
        block = _block_at(fd, size, pos, sync)
        if block is None:
            break
        blocks.append(block)
        pos = block.end
    return tuple(blocks)


def _block_at(fd: int, size: int, pos: int, sync: bytes) -> Block | None:
    head = os.pread(fd, min(2 * _MAX_VARINT, size - pos), pos)
    try:
        count, at = _long(head, 0)
        data_size, at = _long(head, at)
    except (_Short, ArchiveError):
        return None
    end = pos + at + data_size + SYNC_SIZE
    if count < 0 or data_size < 0 or end > size:
        return None
    if os.pread(fd, SYNC_SIZE, end - SYNC_SIZE) != sync:
        return None
    return Block(pos, end, count, pos + at, data_size)


def _encode_header(header: Header, schema_text: str) -> bytes:
    """The file's container header with ``schema_text`` as avro.schema."""
    metadata = {k.encode(): v.encode() for k, v in header.metadata.items()}
    metadata[b"avro.schema"] = schema_text.encode()
    entries = b"".join(
        encode_long(len(k)) + k + encode_long(len(v)) + v for k, v in metadata.items()
    )
    return MAGIC + encode_long(len(metadata)) + entries + encode_long(0) + header.sync


class _Spliced(io.RawIOBase):
    """A read-only stream: ``head`` bytes, then the bytes ``[start, end)`` of the file open as
    ``fd``, which the stream owns and closes."""

    def __init__(self, head: bytes, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._fd = fd
        self._pos = start
        self._end = end

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        want = min(len(buffer), self._end - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._pos)
        if not data:
            raise ArchiveError("the file was cut while being read")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
