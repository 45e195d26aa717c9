"""Channel schemas as the registry takes them: an inline record or a path inside the
installation's ``config/`` folder, judged by :mod:`speeddata.schema` (the library every part
uses), and the Avro schema-resolution check between a channel's versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from services.registry.bodies import parse_json
from services.registry.errors import ApiError
from speeddata.config import Settings
from speeddata.schema import SchemaError, fingerprint, load_schema, time_unit

MAX_PATH = 1024


@dataclass(frozen=True)
class Judged:
    """A schema the relay runs: its parsed JSON, exact text, fingerprint and time unit."""

    schema: dict[str, Any]
    text: str
    path: str | None
    fingerprint: str
    time_unit: str


def invalid(detail: str, code: str = "invalid_schema", **extra: Any) -> ApiError:
    return ApiError(422, code, detail, **extra)


def read_source(source: dict[str, Any] | str, settings: Settings) -> tuple[Any, str, str | None]:
    """``(parsed, text, path)`` of an inline schema or a ``config/...`` path."""
    if isinstance(source, dict):
        return source, json.dumps(source, indent=2), None
    path = _config_path(source, settings)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise invalid(f"schema file {source!r} not found", "schema_not_found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise invalid(f"schema file {source!r} cannot be read: {e}") from None
    return parse_json(text, f"schema file {source!r}", 422, "invalid_schema"), text, source


def _config_path(source: str, settings: Settings) -> Path:
    """The file a schema path names, checked before anything is read: relative, no ``..``,
    inside ``config/`` (after symbolic links too)."""
    posix = PurePosixPath(source)
    if (
        not source
        or len(source) > MAX_PATH
        or "\\" in source
        or "\0" in source
        or posix.is_absolute()
        or ".." in posix.parts
        or posix.parts[0] != "config"
        or len(posix.parts) < 2
    ):
        raise invalid(
            f"schema path {source!r} must be a relative path inside config/ "
            "(such as config/agents/example.avsc), or give the schema itself",
            "bad_schema_path",
        )
    config = (settings.root / "config").resolve()
    path = (settings.root / posix).resolve()
    if not path.is_relative_to(config):
        raise invalid(f"schema path {source!r} leads outside config/", "bad_schema_path")
    return path


def judge(
    source: dict[str, Any] | str,
    time_field: str | None,
    unit: str | None,
    settings: Settings,
) -> Judged:
    """The schema of ``source`` once the relay accepted it as a channel schema with this time
    field and unit (the exact text it will be started with); :class:`ApiError` 422 saying why
    not."""
    schema, text, path = read_source(source, settings)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise invalid("a channel schema must be an Avro record")
    try:
        load_schema(text, time_field=time_field, time_unit=unit, settings=settings)
        resolved = time_unit(text, time_field, unit, settings=settings)
        fp = fingerprint(schema)
    except SchemaError as e:
        raise invalid(str(e)) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise invalid(f"not a valid Avro schema: {e}") from None  # a library's own complaint
    return Judged(schema=schema, text=text, path=path, fingerprint=fp, time_unit=resolved)


def incompatibilities(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str]]:
    """Why data written with ``old`` cannot be read with ``new`` under Avro's resolution rules,
    as ``(field, reason)`` pairs (empty: compatible). The field is ``""`` when the records
    themselves do not match (another name)."""
    checker = ReaderWriterCompatibilityChecker()
    try:
        reader, writer = _parse(new), _parse(old)
    except (avro.errors.AvroException, ValueError, TypeError, RecursionError) as e:
        return [("", f"the schemas cannot be compared: {e}")]
    if (
        checker.get_compatibility(reader, writer).compatibility
        is SchemaCompatibilityType.compatible
    ):
        return []
    found: list[tuple[str, str]] = []
    written = {f.name: f for f in getattr(writer, "fields", [])}
    for field in getattr(reader, "fields", []):
        before = written.get(field.name)
        if before is None:
            if not field.has_default:
                found.append((field.name, "added without a default, so old data has no value"))
            continue
        result = ReaderWriterCompatibilityChecker().get_compatibility(field.type, before.type)
        if result.compatibility is not SchemaCompatibilityType.compatible:
            why = "; ".join(sorted(result.messages)) or "types do not match"
            found.append((field.name, f"type change is not an Avro promotion ({why})"))
    if not found:
        reasons = checker.get_compatibility(reader, writer).messages
        found.append(("", "; ".join(sorted(reasons)) or "the records do not match"))
    return found


def _parse(schema: dict[str, Any]) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(schema))
