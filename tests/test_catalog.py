"""speeddata.catalog: channels from the settings, schemas inline or by path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from speeddata.catalog import ChannelError, configured_channels
from speeddata.config import ROOT, load_settings

INLINE = {"type": "record", "name": "t", "fields": [{"name": "x", "type": "double"}]}


def settings_with(tmp_path: Path, *channels: dict):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"channels": list(channels)}))
    return load_settings(config_file=config, environ={})


def test_a_schema_is_inline_or_a_path_relative_to_the_installation(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        {"name": "inline", "port": 26100, "schema": INLINE},
        {"name": "by_path", "port": 26101, "schema": "config/agents/example.avsc"},
    )
    inline, by_path = configured_channels(settings)
    assert inline.schema == INLINE and json.loads(inline.schema_text) == INLINE
    example = ROOT / "config" / "agents" / "example.avsc"
    assert by_path.schema_text == example.read_text()
    assert by_path.schema == json.loads(by_path.schema_text)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("config/agents/nope.avsc", "channel bad: cannot read schema file"),
        ({"type": "nope"}, "channel bad: schema: the top level is not a record"),
        (  # fastavro accepts this; the relay does not, so neither does the catalog
            {**INLINE, "fields": [{"name": "x", "type": "int"}, {"name": "x", "type": "int"}]},
            'channel bad: schema: field "x" is declared twice',
        ),
        (None, "channel bad: no schema given"),
    ],
)
def test_an_unusable_schema_names_the_channel(tmp_path: Path, schema, message: str) -> None:
    settings = settings_with(tmp_path, {"name": "bad", "port": 26100, "schema": schema})
    with pytest.raises(ChannelError, match=message):
        configured_channels(settings)


def test_time_field_unit_and_archive_schema_are_the_relay_s(tmp_path: Path) -> None:
    schema = {
        "type": "record",
        "name": "t",
        "fields": [
            {"name": "t", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
            {"name": "x", "type": "double"},
        ],
    }
    channel = {"name": "c", "port": 26100, "schema": schema, "time_field": "t", "time_unit": "us"}
    (loaded,) = configured_channels(settings_with(tmp_path, channel))
    assert (loaded.time_field, loaded.time_unit) == ("t", "ms")
    assert [f["name"] for f in loaded.archive_schema["fields"]] == ["rx_time", "t", "x"]
    bad = {**channel, "time_field": "x"}
    with pytest.raises(ChannelError, match='channel c: schema: time field "x" is not a long'):
        configured_channels(settings_with(tmp_path, bad))


def test_a_reference_by_type_object_is_a_channel_error(tmp_path: Path) -> None:
    """{"type": "<name>"} references: fastavro and Apache avro refuse them (no fingerprint, no
    readable archive), so the relay does: one clear error, not a traceback at start."""
    fixed = {"type": "fixed", "name": "F", "size": 2}
    schema = {
        **INLINE,
        "fields": [{"name": "a", "type": fixed}, {"name": "b", "type": {"type": "F"}}],
    }
    settings = settings_with(tmp_path, {"name": "ref", "port": 26100, "schema": schema})
    with pytest.raises(ChannelError, match=r'^channel ref: .*\{"type": "F"\}: a named type'):
        configured_channels(settings)
