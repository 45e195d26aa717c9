"""The settings loader: precedence of the sources, type checks, the default data dir."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from speeddata.config import ROOT, SECTIONS, SettingsError, load_settings


def write_config(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_user_file_wins_over_the_defaults_and_the_environment_over_the_file(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "mine.yaml", {"relay": {"flush_ms": 40, "rcvbuf": 4096}})
    from_file = load_settings(environ={"SPEEDDATA_CONFIG": str(config)})
    assert from_file.config_file == config
    assert (from_file.relay.flush_ms, from_file.relay.rcvbuf) == (40, 4096)
    assert from_file.relay.rotate_seconds == 60  # untouched keys keep their defaults

    both = load_settings(
        environ={"SPEEDDATA_CONFIG": str(config), "SPEEDDATA__RELAY__FLUSH_MS": "15"}
    )
    assert (both.relay.flush_ms, both.relay.rcvbuf) == (15, 4096)
    assert both.override(relay={"flush_ms": 5}).relay.flush_ms == 5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SPEEDDATA__PORTS__START", "abc", "ports.start must be an integer, not 'abc'"),
        ("SPEEDDATA__BUS__HWM", "2.5", "bus.hwm must be an integer, not 2.5"),
        ("SPEEDDATA__BUS__HWM", "true", "bus.hwm must be an integer, not True"),
        ("SPEEDDATA__INGEST__BACKOFF_MAX_S", "abc", "ingest.backoff_max_s must be a number"),
        ("SPEEDDATA__RELAY__BIND", "[a, b]", None),  # text settings take the text as it is
        ("SPEEDDATA__MULTICAST__TTL", "[1]", "multicast.ttl must be an integer, not [1]"),
    ],
)
def test_environment_values_must_have_their_defaults_type(
    variable: str, value: str, message: str | None
) -> None:
    if message is None:
        assert load_settings(environ={variable: value}).relay.bind == value
        return
    with pytest.raises(SettingsError, match="^environment: setting " + re.escape(message)):
        load_settings(environ={variable: value})


def test_file_and_override_values_are_checked_too(tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.yaml", {"multicast": {"interface": 127}})
    with pytest.raises(
        SettingsError, match=r"bad.yaml:2:3: setting multicast.interface must be a s"
    ):
        load_settings(config_file=config, environ={})
    listed = write_config(tmp_path / "listed.yaml", {"channels": {"example": 1}})
    with pytest.raises(SettingsError, match=r"listed.yaml:1:1: setting channels must be a list"):
        load_settings(config_file=listed, environ={})
    entry = write_config(tmp_path / "entry.yaml", {"channels": ["example"]})
    with pytest.raises(SettingsError, match=r"setting channels\[0\] must be a mapping"):
        load_settings(config_file=entry, environ={})
    settings = load_settings(environ={})
    with pytest.raises(SettingsError, match="override: setting relay.flush_ms must be an int"):
        settings.override(relay={"flush_ms": "20"})
    with pytest.raises(SettingsError, match="override: unknown setting relay.nope"):
        settings.override(relay={"nope": 1})


BAD_YAML = [
    ("relay:\n  flush_ms: 20\n   rcvbuf: 5\n", "3:10: mapping values are not allowed here"),
    ("bus:\n  hwm: [1, 2\nrelay: {}\n", "3:6: expected ',' or ']', but got ':'"),
    ("relay:\n\tflush_ms: 2\n", "2:1: found character '\\t' that cannot start any token"),
    ("relay:\n  flush_ms: 2\n  bogus: 1\n", "3:3: unknown setting relay.bogus"),
    ("ports: {start: 1}\n---\nx: 1\n", "2:1: expected a single document in the stream, but"),
    ("- relay\n", "1:1: the file must hold a mapping of sections"),
]


@pytest.mark.parametrize(("text", "message"), BAD_YAML)
def test_a_bad_file_is_one_line_naming_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "x.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file="config/x.yaml", environ={})
    assert str(caught.value).startswith(f"config/x.yaml:{message}")
    assert "\n" not in str(caught.value)


def test_every_start_names_the_bad_file_line_and_column_in_one_line(tmp_path: Path) -> None:
    """sdctl (any command, serve and up too) and each service started by itself."""
    bad = tmp_path / "x.yaml"
    bad.write_text("relay:\n  flush_ms: 20\n   rcvbuf: 5\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    env.update(SPEEDDATA_CONFIG="x.yaml", SPEEDDATA_DATA_DIR=str(tmp_path / "data"))
    where = "x.yaml:3:10: mapping values are not allowed here"
    commands = {
        ("-m", "speeddata", "status"): f"sdctl: error: {where}",
        ("-m", "speeddata", "up"): f"sdctl: error: {where}",
        ("-m", "speeddata", "serve", "bus"): f"sdctl: error: {where}",
        ("-m", "services.bus"): f'event=error service=bus error="{where}"',
        ("-m", "services.ingest"): f'event=error service=ingest error="{where}"',
    }
    for args, line in commands.items():
        done = subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode != 0 and done.stderr.splitlines() == [line], (args, done.stderr)


def test_sections_are_typed_frozen_and_every_key_documented() -> None:
    settings = load_settings(environ={})
    for name, cls in SECTIONS.items():
        section = getattr(settings, name)
        assert type(section) is cls
        for f in dataclasses.fields(cls):
            assert f.metadata["doc"], f"{name}.{f.name} has no doc"
            kind = typing.get_type_hints(cls)[f.name]
            assert type(getattr(section, f.name)) is kind, f"{name}.{f.name}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.relay.flush_ms = 5  # type: ignore[misc]
    assert settings.relay["flush_ms"] == settings.relay.flush_ms  # a key chosen at run time
    with pytest.raises(KeyError):
        settings.relay["nope"]


def test_an_integer_is_a_number_where_a_number_is_expected() -> None:
    settings = load_settings(environ={"SPEEDDATA__INGEST__BACKOFF_INITIAL_S": "2"})
    assert (
        settings.ingest.backoff_initial_s == 2 and type(settings.ingest.backoff_initial_s) is float
    )
    assert settings.override(ingest={"backoff_max_s": 2.5}).ingest.backoff_max_s == 2.5


def test_the_default_data_dir_is_var_of_the_installation_whatever_the_working_dir(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDDATA")}
    done = subprocess.run(
        [sys.executable, "-c", "from speeddata.config import load_settings as s; "
         "print(s().data_dir, s().config_file, sep='\\n')"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.splitlines() == [str(ROOT / "var"), str(ROOT / "config/speeddata.yaml")]
