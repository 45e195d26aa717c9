"""The one settings loader: defaults from the installation's ``config/speeddata.yaml``, a user
file over them (``SPEEDDATA_CONFIG``), then ``SPEEDDATA__<SECTION>__<KEY>`` environment
variables, then explicit overrides (tests). ``SPEEDDATA_DATA_DIR`` sets the data dir.

Each section is a frozen dataclass whose keys are typed and documented; the YAML file holds
their defaults. A value of the wrong type, an unknown key and a file that is not YAML are
:class:`SettingsError`\\ s naming the key (and the file, line and column)."""

from __future__ import annotations

import copy
import dataclasses
import os
import typing
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


def key(doc: str) -> Any:
    """A setting: its default is in ``config/speeddata.yaml``, ``doc`` says what it is."""
    return field(metadata={"doc": doc})


class _Section:
    """What every section shares: keys chosen at run time (a channel's ``config`` over
    ``relay.<key>``) are read with ``section[key]``."""

    def __getitem__(self, name: str) -> Any:
        if name not in _fields(type(self)):
            raise KeyError(name)
        return getattr(self, name)


@dataclass(frozen=True)
class BusSettings(_Section):
    """``bus``: where the bus proxy listens and how every bus socket behaves."""

    xsub: str = key("endpoint publishers connect to (the proxy binds it)")
    xpub: str = key("endpoint subscribers connect to (the proxy binds it)")
    hwm: int = key("high-water mark of every bus socket, in messages")
    linger_ms: int = key("how long a closing socket may still send, 0..1000 ms")
    cache_beats: int = key("last-value cache entries expire after this many missed beats")
    connect_timeout_s: float = key("how long sdctl waits for the bus to answer, seconds (> 0)")


@dataclass(frozen=True)
class RelaySettings(_Section):
    """``relay``: how ingest runs each channel's relay (a channel's ``config`` may override)."""

    binary: str = key("the relay executable, relative to the installation root")
    bind: str = key("address the relays receive on (0.0.0.0 for devices elsewhere)")
    rotate_seconds: int = key("start a new archive file after this many seconds")
    rotate_bytes: int = key("... or once the file reaches this many bytes")
    flush_ms: int = key("write the open block at least this often (ms)")
    rcvbuf: int = key("UDP receive buffer, in bytes")
    quarantine_bytes: int = key("cap of each channel's quarantine file, in bytes")
    dec_max_bytes: int = key("decimated datagrams hold records up to this many bytes; 0: one each")


@dataclass(frozen=True)
class PortSettings(_Section):
    """``ports``: the range of channel ports."""

    start: int = key("first channel port")
    end: int = key("channel ports are below this one")


@dataclass(frozen=True)
class MulticastSettings(_Section):
    """``multicast``: where the relays send each channel's full-rate and decimated streams."""

    full_group: str = key("multicast group of the full-rate streams")
    dec_group: str = key("multicast group of the decimated streams")
    full_offset: int = key("full-rate port = channel port + this")
    dec_offset: int = key("decimated port = channel port + this")
    interface: str = key("address of the sending interface")
    ttl: int = key("multicast TTL (0: nothing leaves the host)")


@dataclass(frozen=True)
class IngestSettings(_Section):
    """``ingest``: how the supervisor restarts relays that exit."""

    backoff_initial_s: float = key("first restart delay of a relay that exited, seconds")
    backoff_max_s: float = key("cap of the restart delay, seconds")
    stable_after_s: float = key("a relay running this long resets its back-off, seconds")
    registry_poll_s: float = key("the supervisor reads the registry's channels this often, s")


@dataclass(frozen=True)
class RegistrySettings(_Section):
    """``registry``: the channel registry's HTTP service and database."""

    bind: str = key("address the registry's HTTP server listens on")
    port: int = key("its TCP port (0: any free port, said in the readiness line)")
    database_url: str = key("SQLAlchemy URL of the database; empty: SQLite <data>/registry.db")
    auth: str = key("token: mutating calls need the token; none: a trusted network, no token")
    snapshot_s: float = key("registry.snapshot is published at least this often, seconds")
    stale_s: float = key("a channel whose relay was silent this long is no longer active, s")
    max_body_bytes: int = key("largest request body accepted (413 beyond), bytes")
    login_ttl_s: int = key("a one-time login link is good for this long, seconds")
    session_ttl_s: int = key("the page's login cookie lasts this long, seconds")


@dataclass(frozen=True)
class JanitorSettings(_Section):
    """``janitor``: retention of the archive (a channel's ``config`` may set its own
    ``retention_ttl_s`` and ``retention_quota_bytes``); 0 is no limit."""

    ttl_s: float = key("delete closed files whose last record is older than this, seconds")
    quota_bytes: int = key("keep the whole archive under this many bytes, oldest files first")
    min_free_bytes: int = key("keep this many bytes free on the archive's disk, oldest first")
    interval_s: float = key("a pass at least this often, seconds (file events bring one sooner)")


@dataclass(frozen=True)
class PivotSettings(_Section):
    """``pivot``: the export service (time ranges of the archive to HDF5, CSV, Parquet)."""

    bind: str = key("address the pivot's HTTP server listens on")
    port: int = key("its TCP port (0: any free port, said in the readiness line)")
    max_channels: int = key("most channels one export may name (413 beyond)")
    max_span_s: float = key("longest range one export may ask, seconds (413 beyond)")
    max_records: int = key("most records the files of one export's range may hold (413 beyond)")
    compression: str = key("HDF5 dataset compression: none, lzf, gzip or gzip:N (level 0-9)")
    temp_dir: str = key("where HDF5 exports are built (unlinked files); empty: the system's")
    registry_timeout_s: float = key("how long the pivot waits for the registry's answer, s")


@dataclass(frozen=True)
class StripchartSettings(_Section):
    """``stripchart``: the WebSocket gateway and its pages (proto/WS.md)."""

    bind: str = key("address the gateway's HTTP server listens on")
    port: int = key("its TCP port (0: any free port, said in the readiness line)")
    allowed_origins: list = key("WebSocket origins allowed besides its own and the registry's")
    source: str = key("live records from: bus (data.<channel>) or multicast (decimated group)")
    memory_s: float = key("seconds of each channel's records kept in memory for history")
    memory_max_rows: int = key("cap of each channel's memory, in records")
    queue_rows: int = key("rows waiting per subscription before the oldest are dropped")
    max_fps: float = key("frames per second and connection at most")
    max_window_s: float = key("largest window a client may ask, seconds")
    max_subscriptions: int = key("subscriptions per connection at most")
    max_signals: int = key("signals per subscription at most")
    registry_poll_s: float = key("the gateway reads the registry's channels this often, s")


@dataclass(frozen=True)
class Settings:
    """Every setting of every service; immutable, derive changed copies with :meth:`override`."""

    bus: BusSettings = key("the bus proxy and bus sockets")
    relay: RelaySettings = key("the relays ingest runs")
    ports: PortSettings = key("the channel port range")
    multicast: MulticastSettings = key("the relays' multicast streams")
    ingest: IngestSettings = key("the ingest supervisor")
    registry: RegistrySettings = key("the channel registry")
    janitor: JanitorSettings = key("the archive's retention")
    pivot: PivotSettings = key("the export service")
    stripchart: StripchartSettings = key("the stripchart gateway")
    channels: list[dict[str, Any]] = key("baseline channels (name, port, schema, ...)")
    data_dir: Path = key("archive, schemas, quarantine and run files")
    config_file: Path = key("the settings file over the defaults (or the defaults)")
    root: Path = field(default=ROOT, metadata={"doc": "the installation root"})

    def path(self, relative: str | os.PathLike[str]) -> Path:
        """A path of the installation (``native/...``, ``config/...``) as an absolute path."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    def override(self, data_dir: str | os.PathLike[str] | None = None, **sections: Any) -> Settings:
        """A copy with some settings changed: ``override(relay={"flush_ms": 20})``."""
        values = _values(self)
        _merge(values, sections, "override")
        return _build(
            values,
            data_dir=Path(data_dir).resolve() if data_dir is not None else self.data_dir,
            config_file=self.config_file,
            root=self.root,
        )


SECTIONS: dict[str, type[_Section]] = {
    "bus": BusSettings,
    "relay": RelaySettings,
    "ports": PortSettings,
    "multicast": MulticastSettings,
    "ingest": IngestSettings,
    "registry": RegistrySettings,
    "janitor": JanitorSettings,
    "pivot": PivotSettings,
    "stripchart": StripchartSettings,
}
"""The sections by name; the other keys of the file (``channels``) are top-level values."""

TOP_LEVEL: dict[str, Any] = {"channels": list[dict[str, Any]]}
"""The settings that are not sections, with their types."""


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Builds the settings; arguments win over the environment, which wins over the files."""
    env = os.environ if environ is None else environ
    values = _read_file(DEFAULT_CONFIG, {})
    chosen = config_file or env.get("SPEEDDATA_CONFIG")
    config_path = Path(chosen).resolve() if chosen else DEFAULT_CONFIG
    if config_path != DEFAULT_CONFIG:
        values = _read_file(config_path, values)
    _merge(values, _from_environment(env), "environment")
    chosen_dir = data_dir or env.get("SPEEDDATA_DATA_DIR") or ROOT / "var"
    return _build(values, data_dir=Path(chosen_dir).resolve(), config_file=config_path)


def shown_path(path: Path) -> str:
    """``path`` as a user would type it here: relative to the working dir when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- reading the sources --------------------------------------------------------------------


def _read_file(path: Path, into: dict[str, Any]) -> dict[str, Any]:
    """``into`` with the settings of the YAML file ``path`` merged in; a problem is a
    :class:`SettingsError` of one line: ``<file>:<line>:<column>: <what>``."""
    shown = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SettingsError(f"cannot read config file {shown}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise SettingsError(f"{shown}: not UTF-8 text (byte {e.start})") from None
    try:
        loaded = yaml.safe_load(text)
        marks = _marks(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        raise SettingsError(_yaml_problem(shown, e)) from None
    except yaml.YAMLError as e:
        raise SettingsError(f"{shown}: not valid YAML: {' '.join(str(e).split())}") from None
    if loaded is None:
        return into
    if not isinstance(loaded, dict):
        raise SettingsError(f"{shown}:1:1: the file must hold a mapping of sections")
    merged = copy.deepcopy(into)
    _merge(merged, loaded, shown, {k: f"{shown}:{m}" for k, m in marks.items()})
    return merged


def _yaml_problem(shown: str, e: yaml.MarkedYAMLError) -> str:
    """One line: where the parser stopped and what it found there."""
    mark = e.problem_mark or e.context_mark
    where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
    what = e.problem or e.context or "not valid YAML"
    if e.context and what.startswith("but "):  # "expected a single document ..., but found"
        what = f"{e.context}, {what}"
    return f"{where}: {' '.join(what.split())}"


def _marks(node: yaml.Node | None) -> dict[tuple[str, str | None], str]:
    """``line:column`` of each section and key of a composed file, for error messages."""
    marks: dict[tuple[str, str | None], str] = {}
    if not isinstance(node, yaml.MappingNode):
        return marks
    for section_node, value in node.value:
        section = str(section_node.value)
        marks[(section, None)] = _at(section_node)
        if isinstance(value, yaml.MappingNode):
            for key_node, _ in value.value:
                marks[(section, str(key_node.value))] = _at(key_node)
    return marks


def _at(node: yaml.Node) -> str:
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``SPEEDDATA__<SECTION>__<KEY>`` variables as sections. A value is read as YAML
    (``20`` is a number, ``[a, b]`` a list), except for a text setting, which takes the
    variable's text as it is."""
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise SettingsError(f"{name}: expected SPEEDDATA__<SECTION>__<KEY>")
        section, name_of_key = parts
        cls = SECTIONS.get(section)
        if cls is not None and _fields(cls).get(name_of_key) is str:
            value: Any = raw
        else:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
        found.setdefault(section, {})[name_of_key] = value
    return found


# -- checking and building -------------------------------------------------------------------


def _fields(cls: type) -> dict[str, Any]:
    """The keys of a section and their types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


_WORDS: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def _checked(name: str, kind: Any, value: Any, origin: str) -> Any:
    """``value`` if it is of type ``kind`` (an integer is a number too, made a float; a
    boolean is neither), else a :class:`SettingsError` naming the setting."""
    base = typing.get_origin(kind) or kind
    if base is float and type(value) is int:
        return float(value)
    if base is Any or type(value) is base:
        if base is list:
            (item,) = typing.get_args(kind) or (Any,)
            return [_checked(f"{name}[{i}]", item, v, origin) for i, v in enumerate(value)]
        return value
    raise SettingsError(f"{origin}: setting {name} must be {_WORDS[base]}, not {value!r}")


def _merge(
    into: dict[str, Any],
    new: Mapping[str, Any],
    origin: str,
    marks: Mapping[tuple[str, str | None], str] | None = None,
) -> None:
    """Merges sections of ``new`` into ``into``: unknown sections or keys, and values of
    another type than their setting's, are errors (``marks``: where each key was written)."""

    def at(section: str, name: str | None = None) -> str:
        return (marks or {}).get((section, name), origin)

    for section, value in new.items():
        if section in TOP_LEVEL:
            into[section] = _checked(section, TOP_LEVEL[section], value, at(section))
            continue
        cls = SECTIONS.get(section)
        if cls is None:
            raise SettingsError(f"{at(section)}: unknown settings section {section!r}")
        if not isinstance(value, Mapping):
            raise SettingsError(f"{at(section)}: section {section!r} must be a mapping")
        kinds = _fields(cls)
        target = into.setdefault(section, {})
        for name, v in value.items():
            if name not in kinds:
                raise SettingsError(f"{at(section, name)}: unknown setting {section}.{name}")
            target[name] = _checked(f"{section}.{name}", kinds[name], v, at(section, name))


def _build(
    values: Mapping[str, Any], data_dir: Path, config_file: Path, root: Path = ROOT
) -> Settings:
    """The settings of merged ``values``; a key no file set is an error naming it."""
    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        given = values.get(section, {})
        for name in _fields(cls):
            if name not in given:
                where = shown_path(DEFAULT_CONFIG)
                raise SettingsError(f"{where}: setting {section}.{name} has no default")
        sections[section] = cls(**given)
    channels = copy.deepcopy(values.get("channels", []))
    return Settings(
        **sections, channels=channels, data_dir=data_dir, config_file=config_file, root=root
    )


def _values(settings: Settings) -> dict[str, Any]:
    """The sections and top-level values of ``settings`` as plain (copied) data."""
    out: dict[str, Any] = {name: dataclasses.asdict(getattr(settings, name)) for name in SECTIONS}
    out["channels"] = copy.deepcopy(settings.channels)
    return out
