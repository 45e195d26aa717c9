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
        ({"type": "nope"}, "channel bad: not a valid Avro schema"),
        (None, "channel bad: no schema given"),
    ],
)
def test_an_unusable_schema_names_the_channel(tmp_path: Path, schema, message: str) -> None:
    settings = settings_with(tmp_path, {"name": "bad", "port": 26100, "schema": schema})
    with pytest.raises(ChannelError, match=message):
        configured_channels(settings)
