"""Channel records in the database: register, change, remove, list; schema versions; the
one-time seeding from the YAML baseline. Every function opens and closes its own session."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.registry.db import ChannelRow, Database, MetaRow, SchemaVersionRow
from services.registry.errors import ApiError
from services.registry.models import NAME_PATTERN, ChannelConfig, ChannelCreate, ChannelPatch
from services.registry.schemas import Judged, incompatibilities, judge
from speeddata.channels import multicast_endpoints
from speeddata.config import Settings

SEEDED = "seeded"
NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Change:
    """What a write did, for the bus: the channel's row after it and what changed."""

    action: str  # added | updated | removed
    row: ChannelRow
    changes: list[str] = field(default_factory=list)


def check_port(port: int, settings: Settings) -> None:
    low, high = settings.ports.start, settings.ports.end
    if not low <= port < high:
        raise ApiError(
            422, "port_out_of_range", f"port {port} is outside the channel range [{low}, {high})",
            field="port",
        )  # fmt: skip


def normal_config(config: dict[str, Any]) -> dict[str, Any]:
    """A channel config checked against :class:`ChannelConfig` (422 naming the key), without
    unset keys, the original's ``rotation`` stored as ``rotate_seconds``."""
    try:
        checked = ChannelConfig.model_validate(config).model_dump(exclude_none=True)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ApiError(
            422, "invalid_config", f"config key {key!r}: {first['msg']}", field=f"config.{key}"
        ) from None
    if "rotation" in checked:
        checked.setdefault("rotate_seconds", checked.pop("rotation"))
        checked.pop("rotation", None)
    return checked


def create(db: Database, settings: Settings, body: ChannelCreate) -> Change:
    check_port(body.port, settings)
    config = normal_config(body.config.model_dump(exclude_none=True) if body.config else {})
    judged = judge(body.schema_, body.time_field, body.time_unit, settings)
    full, dec = multicast_endpoints(body.port, settings)
    now = time.time_ns()
    row = ChannelRow(
        name=body.name,
        port=body.port,
        schema_text=judged.text,
        schema_path=judged.path,
        schema_version=1,
        fingerprint=judged.fingerprint,
        time_field=body.time_field,
        time_unit=judged.time_unit,
        config=config,
        mcast_full=str(full),
        mcast_dec=str(dec),
        created_ns=now,
        updated_ns=now,
    )
    row.versions.append(_version(1, judged, now))
    try:
        with db.writing() as session:
            _check_free(session, body.name, body.port)
            session.add(row)
            session.flush()
    except IntegrityError:  # another writer took the name or port between check and insert
        with db.reading() as session:
            _check_free(session, body.name, body.port)
        raise ApiError(409, "conflict", "the channel changed meanwhile; try again") from None
    return Change("added", row)


def _version(number: int, judged: Judged, now: int) -> SchemaVersionRow:
    return SchemaVersionRow(
        version=number, fingerprint=judged.fingerprint, schema_text=judged.text, created_ns=now
    )


def _check_free(session: Session, name: str, port: int) -> None:
    if session.scalar(select(ChannelRow.id).where(ChannelRow.name == name)) is not None:
        raise ApiError(409, "name_taken", f"a channel named {name!r} exists", used_by=name)
    holder = session.scalar(select(ChannelRow.name).where(ChannelRow.port == port))
    if holder is not None:
        raise ApiError(
            409, "port_taken", f"port {port} is used by channel {holder!r}", used_by=holder
        )


def get(db: Database, name: str) -> ChannelRow:
    with db.reading() as session:
        return _get(session, name)


def _get(session: Session, name: str, lock: bool = False) -> ChannelRow:
    if not NAME_RE.fullmatch(name):  # no such name can exist; the database is not asked
        raise ApiError(404, "not_found", f"no channel named {name!r}", name=name)
    query = select(ChannelRow).where(ChannelRow.name == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise ApiError(404, "not_found", f"no channel named {name!r}", name=name)
    return row


def rows(db: Database) -> list[ChannelRow]:
    with db.reading() as session:
        return list(session.scalars(select(ChannelRow).order_by(ChannelRow.name)))


def port_holders(db: Database, start: int, end: int) -> dict[int, str]:
    """Ports of [start, end] held by channels, with their channel's name."""
    query = select(ChannelRow.port, ChannelRow.name).where(
        ChannelRow.port >= start, ChannelRow.port <= end
    )
    with db.reading() as session:
        return {port: name for port, name in session.execute(query)}


def versions(db: Database, name: str) -> list[SchemaVersionRow]:
    with db.reading() as session:
        return list(_get(session, name).versions)


def delete(db: Database, name: str) -> Change:
    with db.writing() as session:
        row = _get(session, name, lock=True)
        session.delete(row)
    return Change("removed", row)


def update(db: Database, settings: Settings, name: str, patch: ChannelPatch, force: bool) -> Change:
    current = get(db, name)
    for key in ("name", "port"):
        given = getattr(patch, key)
        if given is not None and given != getattr(current, key):
            raise ApiError(422, "immutable", f"a channel's {key} cannot change", field=key)
    changes: dict[str, Any] = {}
    if patch.config is not None:
        given_config = dict(patch.config)
        if "rotation" in given_config:
            given_config["rotate_seconds"] = given_config.pop("rotation")
        merged = {**current.config, **given_config}
        config = normal_config({k: v for k, v in merged.items() if v is not None})
        if config != current.config:
            changes["config"] = config
    given = patch.model_fields_set
    time_field = patch.time_field if "time_field" in given else current.time_field
    unit = patch.time_unit if "time_unit" in given else current.time_unit
    judged = None
    if patch.schema_ is not None or "time_field" in given or "time_unit" in given:
        source = patch.schema_ if patch.schema_ is not None else json.loads(current.schema_text)
        judged = judge(source, time_field, unit, settings)
        if judged.fingerprint != current.fingerprint:
            _check_compatible(judged, current, force)
            changes["schema"] = judged
        if time_field != current.time_field:
            changes["time_field"] = time_field
        if judged.time_unit != current.time_unit:
            changes["time_unit"] = judged.time_unit
    if not changes:
        return Change("updated", current, [])
    with db.writing() as session:
        row = _get(session, name, lock=True)
        if row.updated_ns != current.updated_ns:
            raise ApiError(409, "conflict", f"channel {name!r} changed meanwhile; try again")
        now = time.time_ns()
        _apply(row, changes, now)
        session.flush()
        session.refresh(row)
    return Change("updated", row, sorted(changes))


def _check_compatible(judged: Judged, current: ChannelRow, force: bool) -> None:
    if force:
        return
    problems = incompatibilities(judged.schema, json.loads(current.schema_text))
    if problems:
        field, why = problems[0]
        described = "; ".join(f"{f or 'record'}: {w}" for f, w in problems)
        raise ApiError(
            409,
            "incompatible_schema",
            f"the new schema cannot read data of version {current.schema_version}: {described} "
            "(?force=true registers it anyway)",
            field=field,
            reasons=[{"field": f, "reason": w} for f, w in problems],
        )


def _apply(row: ChannelRow, changes: dict[str, Any], now: int) -> None:
    judged = changes.get("schema")
    if judged is not None:
        row.schema_version += 1
        row.schema_text, row.schema_path, row.fingerprint = (
            judged.text,
            judged.path,
            judged.fingerprint,
        )
        row.versions.append(_version(row.schema_version, judged, now))
    if "config" in changes:
        row.config = changes["config"]
    if "time_field" in changes:
        row.time_field = changes["time_field"]
    if "time_unit" in changes:
        row.time_unit = changes["time_unit"]
    row.updated_ns = now


def seed(db: Database, settings: Settings) -> tuple[list[Change], list[str]]:
    """Registers the YAML baseline channels when the registry is empty and was never seeded,
    then remembers that it was, so a deleted baseline channel stays deleted. Returns what was
    added and why any entry could not be."""
    with db.reading() as session:
        if session.get(MetaRow, SEEDED) is not None:
            return [], []
        empty = session.scalar(select(ChannelRow.id).limit(1)) is None
    done: list[Change] = []
    errors: list[str] = []
    for entry in settings.channels if empty else []:
        try:
            done.append(create(db, settings, ChannelCreate.model_validate(entry)))
        except ApiError as e:
            errors.append(f"baseline channel {entry.get('name')!r}: {e.detail}")
        except ValidationError as e:
            errors.append(f"baseline channel {entry.get('name')!r}: {e.errors()[0]['msg']}")
    with db.writing() as session:
        if session.get(MetaRow, SEEDED) is None:
            session.add(MetaRow(key=SEEDED, value=str(time.time_ns())))
    return done, errors
