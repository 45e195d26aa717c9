"""The one settings loader: defaults from the installation's ``config/speeddata.yaml``, a user
file over them (``SPEEDDATA_CONFIG``), then ``SPEEDDATA__<SECTION>__<KEY>`` environment
variables, then explicit overrides (tests). ``SPEEDDATA_DATA_DIR`` sets the data dir."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
"""The installation root: where ``config/`` and ``native/`` live."""

DEFAULT_CONFIG = ROOT / "config" / "speeddata.yaml"
ENV_PREFIX = "SPEEDDATA__"


class SettingsError(ValueError):
    """A configuration file or variable that cannot be used; the message says which."""


class Section(Mapping[str, Any]):
    """One section of the settings, read by attribute (``settings.relay.flush_ms``) or key."""

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        self._name = name
        self._values = dict(values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"no setting {self._name}.{key}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._values!r})"


@dataclass(frozen=True)
class Settings:
    """Every setting of every service; immutable, derive changed copies with :meth:`override`."""

    values: dict[str, Any]
    data_dir: Path
    config_file: Path
    root: Path = field(default=ROOT)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name not in values:
            raise AttributeError(f"no settings section {name!r}")
        value = values[name]
        return Section(name, value) if isinstance(value, dict) else value

    def path(self, relative: str | os.PathLike[str]) -> Path:
        """A path of the installation (``native/...``, ``config/...``) as an absolute path."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    def override(self, data_dir: str | os.PathLike[str] | None = None, **sections: Any) -> Settings:
        """A copy with some settings changed: ``override(relay={"flush_ms": 20})``."""
        values = copy.deepcopy(self.values)
        _merge(values, sections, "override")
        return Settings(
            values=values,
            data_dir=Path(data_dir).resolve() if data_dir is not None else self.data_dir,
            config_file=self.config_file,
            root=self.root,
        )


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Builds the settings; arguments win over the environment, which wins over the files."""
    env = os.environ if environ is None else environ
    values = _read_yaml(DEFAULT_CONFIG)
    chosen = config_file or env.get("SPEEDDATA_CONFIG")
    config_path = Path(chosen).resolve() if chosen else DEFAULT_CONFIG
    if config_path != DEFAULT_CONFIG:
        _merge(values, _read_yaml(config_path), str(config_path))
    _merge(values, _from_environment(env, values), "environment")
    chosen_dir = data_dir or env.get("SPEEDDATA_DATA_DIR") or ROOT / "var"
    return Settings(values=values, data_dir=Path(chosen_dir).resolve(), config_file=config_path)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SettingsError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise SettingsError(f"config file {path} is not valid YAML: {e}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"config file {path} must hold a mapping of sections")
    return loaded


def _from_environment(env: Mapping[str, str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The ``SPEEDDATA__<SECTION>__<KEY>`` variables as sections. A value is read as YAML
    (``20`` is a number, ``[a, b]`` a list), except for a setting whose default is text,
    which takes the variable's text as it is."""
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise SettingsError(f"{name}: expected SPEEDDATA__<SECTION>__<KEY>")
        section, key = parts
        default = defaults.get(section)
        if isinstance(default, dict) and isinstance(default.get(key), str):
            value: Any = raw
        else:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
        found.setdefault(section, {})[key] = value
    return found


_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "true or false"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)


def _check_type(name: str, default: Any, value: Any, origin: str) -> None:
    """Raises :class:`SettingsError` unless ``value`` has the type of ``default`` (an integer
    is a number too; a boolean is neither)."""
    for kind, words in _KINDS:
        if type(default) is kind:
            ok = type(value) is kind or (kind is float and type(value) is int)
            if not ok:
                raise SettingsError(f"{origin}: setting {name} must be {words}, not {value!r}")
            return


def _merge(into: dict[str, Any], new: Mapping[str, Any], origin: str) -> None:
    """Merges sections of ``new`` into ``into``; unknown sections or keys, and values of
    another type than their default, are errors."""
    for section, value in new.items():
        if section not in into:
            raise SettingsError(f"{origin}: unknown settings section {section!r}")
        if isinstance(into[section], dict):
            if not isinstance(value, Mapping):
                raise SettingsError(f"{origin}: section {section!r} must be a mapping")
            for key, v in value.items():
                if key not in into[section]:
                    raise SettingsError(f"{origin}: unknown setting {section}.{key}")
                _check_type(f"{section}.{key}", into[section][key], v, origin)
                into[section][key] = v
        else:
            _check_type(section, into[section], value, origin)
            into[section] = value
