"""What a relay is started with: its schema file and its command line."""

from __future__ import annotations

import os
from pathlib import Path

from speeddata.channels import Channel, multicast_endpoints
from speeddata.config import Settings
from speeddata.schema import fingerprint


def write_schema(channel: Channel, data_dir: Path, version: int | None = None) -> Path:
    """Writes the channel schema's exact text to ``<data>/schemas/<channel>.v<version>.avsc``
    (``<channel>.avsc`` without a version; atomically, only when it changed) and returns the
    path."""
    stem = channel.name if version is None else f"{channel.name}.v{version}"
    path = data_dir / "schemas" / f"{stem}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == channel.schema_text:
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(channel.schema_text, encoding="utf-8")
    tmp.replace(path)
    return path


def relay_argv(channel: Channel, settings: Settings, schema_path: Path) -> list[str]:
    """The relay's full command line: every setting as a flag, ``--die-with-parent`` last."""
    full, dec = multicast_endpoints(channel.port, settings)
    m, relay = settings.multicast, settings.relay
    argv = [
        str(settings.path(relay.binary)),
        *("--name", channel.name),
        *("--port", str(channel.port)),
        *("--schema", str(schema_path)),
        *("--data-dir", str(settings.data_dir)),
        *("--bind", relay.bind),
        *("--fingerprint", fingerprint(channel.schema)),
        *("--mcast-full", str(full)),
        *("--mcast-dec", str(dec)),
        *("--mcast-if", m.interface),
        *("--mcast-ttl", str(m.ttl)),
        *("--decimate", str(channel.config["decimation"])),
        *("--algorithm", str(channel.config["algorithm"])),
        *("--rotate-seconds", str(channel.setting("rotate_seconds", settings))),
        *("--rotate-bytes", str(channel.setting("rotate_bytes", settings))),
        *("--flush-ms", str(channel.setting("flush_ms", settings))),
        *("--dec-max-bytes", str(channel.setting("dec_max_bytes", settings))),
    ]
    if channel.time_field:
        argv += ["--time-field", channel.time_field]
    argv += [
        *("--time-unit", channel.time_unit),
        *("--bus", settings.bus.xsub),
        *("--rcvbuf", str(relay.rcvbuf)),
        *("--quarantine-bytes", str(relay.quarantine_bytes)),
        "--die-with-parent",
    ]
    return argv
