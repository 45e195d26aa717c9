"""Channel schemas: reading them, whether the relay runs them, the archive schema it derives from
them, the unit of a channel's time field (the contract's "Time" rules) and their fingerprint.

The relay's schema compiler is the one judge: :func:`check_schema` and :func:`load_schema` ask
``zmq_relay --check-schema`` and :func:`archive_schema` asks ``zmq_relay --print-archive-schema``,
so everyone (ingest, the CLI, the registry) accepts exactly the schemas a relay runs. Each
answer costs one short process, once per schema: answers are kept (a few dozen schemas,
keyed by the schema text and the relay binary's modification time)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from fastavro.schema import SchemaParseException, parse_schema, to_parsing_canonical_form
from fastavro.schema import fingerprint as _fingerprint

from speeddata.config import Settings, SettingsError, load_settings
from speeddata.logfmt import error_text

Schema = dict[str, Any] | list[Any] | str
"""An Avro schema as parsed JSON: a record (dict), a union (list) or a type name (str)."""

TIME_UNITS = ("s", "ms", "us", "ns")

RESERVED_FIELDS = frozenset({"rx_time"})
"""Field names a channel schema may not declare: the relay adds them to archived records."""

RX_TIME_FIELD: dict[str, Any] = {
    "name": "rx_time",
    "type": {"type": "long", "logicalType": "timestamp-nanos"},
    "doc": "Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch",
}
"""The field the relay puts first in every archived record."""

RELAY_TIMEOUT_S = 30.0
"""How long one answer of the relay may take (a 1 MB schema takes milliseconds)."""


class SchemaError(ValueError):
    """A schema that cannot be used: unreadable, not JSON, or not one the relay runs."""


def read_schema(source: Schema | Path) -> Schema:
    """The schema as parsed JSON, from parsed JSON, JSON text, or the path of an ``.avsc`` file,
    without judging it (see :func:`load_schema` for a channel schema).

    A ``str`` is read as JSON text when it starts with ``{``, ``[`` or ``"``, else as a path.
    Raises :class:`SchemaError` when the file cannot be read or the text is not JSON."""
    schema, text, where = _source(source)
    return _parse(text, where) if schema is None else schema


def load_schema(
    source: Schema | Path,
    *,
    time_field: str | None = None,
    time_unit: str | None = None,
    settings: Settings | None = None,
) -> Schema:
    """A channel schema as parsed JSON (sources as for :func:`read_schema`), once the relay has
    accepted it, with ``time_field`` and ``time_unit`` when given.

    Raises :class:`SchemaError` with the relay's reason when it would refuse to start with it
    (or the source cannot be read or is not JSON)."""
    schema, text, where = _source(source)
    _ask(text, where, "--check-schema", time_field, time_unit, settings)
    return _parse(text, where) if schema is None else schema


def check_schema(
    schema: Any,
    *,
    time_field: str | None = None,
    time_unit: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Raise :class:`SchemaError` unless the relay runs ``schema`` (any source of
    :func:`load_schema`) as a channel schema, with ``time_field`` and ``time_unit`` when
    given."""
    load_schema(schema, time_field=time_field, time_unit=time_unit, settings=settings)


def archive_schema(
    channel_schema: Schema | Path, *, settings: Settings | None = None
) -> dict[str, Any]:
    """The archive schema of a channel, as the relay writes it in every archive header: the
    channel record with ``rx_time`` (:data:`RX_TIME_FIELD`) as its first field, every other
    attribute kept (a recursive channel record gets a new archive record, see
    native/zmq_relay/src/archive_schema.c).

    Raises :class:`SchemaError` when the relay refuses the channel schema."""
    _, text, where = _source(channel_schema)
    archived = json.loads(_ask(text, where, "--print-archive-schema", None, None, settings))
    return archived  # type: ignore[no-any-return]


def time_unit(
    schema: Schema | Path,
    time_field: str | None,
    fallback: str | None = None,
    *,
    settings: Settings | None = None,
) -> str:
    """The unit (``s|ms|us|ns``) of a channel's time field, as the relay resolves it: the field
    type's logicalType (``timestamp-millis|micros|nanos``, ``local-`` too), else a logicalType
    on the field itself, else ``fallback`` (the channel's ``time_unit`` setting), else ``ns``.
    With no time field the answer is ``fallback`` or ``ns``.

    Raises :class:`SchemaError` when the relay refuses the schema, the field is missing or not
    a long, or the fallback is not one of the units."""
    _, text, where = _source(schema)
    answer = _ask(text, where, "--check-schema", time_field, fallback, settings)
    if time_field is None:
        return fallback or "ns"
    return answer.partition("time_unit=")[2].strip() or "ns"


def fingerprint(schema: Any) -> str:
    """The CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, spelled as the 16 hex
    digits of its 8 wire bytes in order (``"int"`` -> ``8f5c393f1ad57572``).

    ``schema`` is the schema as parsed JSON (dict, list or a type name such as ``"int"``) or
    its JSON text. Raises :class:`SchemaError` when fastavro cannot form its Parsing Canonical
    Form."""
    if isinstance(schema, str | bytes):
        with contextlib.suppress(ValueError):  # not JSON: a type name
            schema = json.loads(schema)
    try:
        canonical = to_parsing_canonical_form(parse_schema(schema, _write_hint=False))
    except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SchemaError(f"no fingerprint for this schema: {exc}") from exc
    return str(_fingerprint(canonical, "CRC-64-AVRO"))


def fingerprint_bytes(schema: Any) -> bytes:
    """The 8 wire bytes of :func:`fingerprint` (as they follow ``C3 01`` in a datagram)."""
    return bytes.fromhex(fingerprint(schema))


def relay_binary(settings: Settings | None = None) -> Path:
    """The relay binary that judges schemas: the ``relay.binary`` setting (by default the
    installation's ``native/zmq_relay/build/zmq_relay``), as ingest starts it."""
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError as exc:
            raise SchemaError(f"cannot find the relay to check the schema: {exc}") from exc
    return settings.path(settings.relay.binary)


def _source(source: Any) -> tuple[Schema | None, str, str | None]:
    """A source as parsed JSON (None when it is text), the text to give the relay (the source's
    own text when it has one: the exact text a relay is started with) and its file."""
    if isinstance(source, Path):
        return None, _read_text(source), str(source)
    if isinstance(source, str) and source.lstrip().startswith(("{", "[", '"')):
        return None, source, None
    if isinstance(source, str):
        return None, _read_text(Path(source)), source
    if isinstance(source, dict | list):
        try:
            return source, json.dumps(source), None
        except (TypeError, ValueError, RecursionError) as exc:
            raise SchemaError(f"the schema cannot be written as JSON: {exc}") from exc
    raise SchemaError(f"a schema is a dict, JSON text or a path, not {type(source).__name__}")


def _parse(text: str, where: str | None) -> Schema:
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SchemaError(f"{where or 'schema text'} is not JSON: {exc}") from exc


def _ask(
    text: str,
    where: str | None,
    mode: str,
    time_field: str | None,
    time_unit: str | None,
    settings: Settings | None,
) -> str:
    """The relay's answer (its stdout) on the schema ``text`` in ``mode``; its reason as a
    :class:`SchemaError` when it refuses."""
    binary = relay_binary(settings)
    try:
        stamp = binary.stat().st_mtime_ns
    except OSError:
        raise SchemaError(
            f"cannot check the schema: the relay {binary} is missing (run `make relay`)"
        ) from None
    return _answer(str(binary), stamp, mode, text, time_field, time_unit, where)


@functools.lru_cache(maxsize=64)
def _answer(
    binary: str,
    stamp: int,
    mode: str,
    text: str,
    time_field: str | None,
    time_unit: str | None,
    where: str | None,
) -> str:
    """One run of the relay in a schema mode, the schema on its stdin (``stamp``, the binary's
    modification time, is part of the key so a rebuilt relay is asked again)."""
    argv = [binary, mode, "-"] if mode == "--check-schema" else [binary, mode, "--schema", "-"]
    if time_field is not None:
        argv += ["--time-field", time_field]
    if time_unit is not None:
        argv += ["--time-unit", time_unit]
    try:
        done = subprocess.run(
            argv,
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=RELAY_TIMEOUT_S,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired, UnicodeEncodeError) as exc:
        raise SchemaError(f"cannot check the schema with the relay {binary}: {exc}") from exc
    if done.returncode == 0:
        return done.stdout.decode("utf-8")
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    reason = error_text(lines[-1]) if lines else f"the relay exited with status {done.returncode}"
    reason = reason.removeprefix("schema /dev/stdin: ")
    raise SchemaError(f"schema {where}: {reason}" if where else f"schema: {reason}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from exc
