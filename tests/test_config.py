"""The settings loader: precedence of the sources, type checks, the default data dir."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from speeddata.config import ROOT, SettingsError, load_settings


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
    with pytest.raises(SettingsError, match=r"bad.yaml: setting multicast.interface must be a s"):
        load_settings(config_file=config, environ={})
    listed = write_config(tmp_path / "listed.yaml", {"channels": {"example": 1}})
    with pytest.raises(SettingsError, match="setting channels must be a list"):
        load_settings(config_file=listed, environ={})
    settings = load_settings(environ={})
    with pytest.raises(SettingsError, match="override: setting relay.flush_ms must be an int"):
        settings.override(relay={"flush_ms": "20"})


def test_an_integer_is_a_number_where_a_number_is_expected() -> None:
    settings = load_settings(environ={"SPEEDDATA__INGEST__BACKOFF_INITIAL_S": "2"})
    assert settings.ingest.backoff_initial_s == 2
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
