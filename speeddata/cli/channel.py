"""``sdctl channel add|list|show|rm|schemas``: the registry's channels, from a terminal.

Every command talks to the registry of the settings (``registry.bind``/``registry.port``) or
``--url``; changes send the token (``SPEEDDATA_TOKEN``, else ``<data dir>/token``). A refusal
of the registry, or a registry that does not answer, is one line ``sdctl: error: ...``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from, write_out
from speeddata.client import Client, ClientError, Unreachable

app = typer.Typer(
    no_args_is_help=True,
    help="Register, list, inspect and remove channels (the registry's REST API).",
)

ALGORITHMS = ("downsample", "mean", "minmax", "rms", "average")
UNITS = ("s", "ms", "us", "ns")
STATUSES = ("starting", "active", "failed", "stopped")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="SPEEDDATA_REGISTRY_URL",
        help="The registry's URL (default: registry.bind and registry.port of the settings).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NameArg = Annotated[str, typer.Argument(help="Channel name.", show_default=False)]


@contextmanager
def _registry(url: str | None, config: Path | None, data_dir: Path | None) -> Iterator[Client]:
    """A client of the registry; its errors become one-line CliErrors."""
    settings = settings_from(config, data_dir)
    client = Client(url, settings=settings)
    try:
        yield client
    except Unreachable as e:
        raise CliError(f"{e} (is the registry running? sdctl up starts it)") from None
    except ClientError as e:
        raise CliError(f"registry: {e}" + _hint(e)) from None
    finally:
        client.close()


def _hint(e: ClientError) -> str:
    if e.code == "unauthorized":
        return " (set SPEEDDATA_TOKEN, or use the data dir whose token file the registry made)"
    return ""


@app.command()
def add(
    name: NameArg,
    schema: Annotated[
        Path,
        typer.Option(
            "--schema",
            help="The channel's Avro record schema (.avsc), uploaded.",
            show_default=False,
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],  # fmt: skip
    port: Annotated[
        int | None,
        typer.Option(
            help="UDP port (default: the first free one of the channel range).", show_default=False
        ),
    ] = None,  # fmt: skip
    decimation: Annotated[
        int | None, typer.Option(min=1, help="Keep 1 record in N on the decimated stream.")
    ] = None,
    algorithm: Annotated[
        str | None, typer.Option(help=f"Decimation algorithm: {', '.join(ALGORITHMS)}.")
    ] = None,
    time_field: Annotated[
        str | None, typer.Option(help="A long field holding the device's clock.")
    ] = None,
    time_unit: Annotated[
        str | None, typer.Option(help=f"Its unit when the schema says none: {', '.join(UNITS)}.")
    ] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a channel: its relay starts capturing within seconds."""
    _check_choice("--algorithm", algorithm, ALGORITHMS)
    _check_choice("--time-unit", time_unit, UNITS)
    settings_config = {"decimation": decimation, "algorithm": algorithm}
    chosen = {k: v for k, v in settings_config.items() if v is not None} or None
    with _registry(url, config, data_dir) as client:
        record = client.add_channel(
            name, schema, port=port, config=chosen, time_field=time_field, time_unit=time_unit
        )
    write_out(
        f"channel {record['name']} registered: udp port {record['port']}, schema v"
        f"{record['schema_version']} ({record['fingerprint']}), multicast full "
        f"{record['multicast']['full']}, decimated {record['multicast']['decimated']}\n"
    )


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help=f"Only channels in this status: {', '.join(STATUSES)}.")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the channels: status, port, rate, records, drops, rejects, schema version."""
    _check_choice("--status", status, STATUSES)
    with _registry(url, config, data_dir) as client:
        channels = client.channels(status)
    if as_json:
        write_out(json.dumps(channels, indent=2) + "\n")
        return
    write_out(_table(LIST_COLUMNS, [_list_row(c) for c in channels]) + "\n")


@app.command()
def show(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one channel: settings, multicast endpoints, status and the relay's counters."""
    with _registry(url, config, data_dir) as client:
        record = client.channel(name)
    if as_json:
        write_out(json.dumps(record, indent=2) + "\n")
        return
    write_out(_details(record))


@app.command("rm")
def remove(
    name: NameArg,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remove a channel: its relay stops; its archive stays."""
    with _registry(url, config, data_dir) as client:
        done = client.remove_channel(name)
    write_out(f"channel {done['name']} removed (port {done['port']} free; its archive stays)\n")


@app.command()
def schemas(
    name: NameArg,
    version: Annotated[
        int | None, typer.Option(help="Print this version's schema (JSON).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List a channel's schema versions (or print one with --version)."""
    with _registry(url, config, data_dir) as client:
        versions = client.schemas(name)
    if version is not None:
        found = [v for v in versions if v["version"] == version]
        if not found:
            known = ", ".join(str(v["version"]) for v in versions)
            raise CliError(f"channel {name} has no schema version {version} (versions: {known})")
        write_out(json.dumps(found[0]["schema"], indent=2) + "\n")
    elif as_json:
        write_out(json.dumps(versions, indent=2) + "\n")
    else:
        write_out(_table(SCHEMA_COLUMNS, [_schema_row(v) for v in versions]) + "\n")


# -- text output ------------------------------------------------------------------------------

LIST_COLUMNS = (
    ("name", "CHANNEL"),
    ("port", "PORT"),
    ("status", "STATUS"),
    ("rate", "REC/S"),
    ("records", "RECORDS"),
    ("drops", "DROPS"),
    ("rejects", "REJECTS"),
    ("schema", "SCHEMA"),
    ("decimation", "DECIMATION"),
)
SCHEMA_COLUMNS = (
    ("version", "VERSION"),
    ("fingerprint", "FINGERPRINT"),
    ("created_at", "CREATED"),
    ("fields", "FIELDS"),
)


def _list_row(record: dict[str, Any]) -> dict[str, Any]:
    counters = record.get("counters") or {}
    rate = counters.get("record_rate")
    config = record.get("config") or {}
    return {
        "name": record["name"],
        "port": record["port"],
        "status": record["status"],
        "rate": None if rate is None else f"{float(rate):.1f}",
        "records": counters.get("records"),
        "drops": counters.get("kernel_drops"),
        "rejects": _total(counters.get("rejected")),
        "schema": f"v{record['schema_version']}",
        "decimation": f"{config.get('decimation', 1)} {config.get('algorithm', 'downsample')}",
    }


def _schema_row(version: dict[str, Any]) -> dict[str, Any]:
    fields = version["schema"].get("fields", []) if isinstance(version["schema"], dict) else []
    return {**version, "fields": ", ".join(str(f.get("name")) for f in fields)}


def _total(rejected: Any) -> int | None:
    """The relay's rejects: a count, or counts by reason."""
    if isinstance(rejected, dict):
        return sum(int(v) for v in rejected.values())
    return None if rejected is None else int(rejected)


def _table(columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title in columns]]
    cells += [["-" if row.get(k) is None else str(row[k]) for k, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _details(record: dict[str, Any]) -> str:
    counters = record.get("counters") or {}
    lines = [
        f"channel        {record['name']}",
        f"status         {record['status']}",
        f"port           {record['port']}",
        f"schema         v{record['schema_version']} {record['fingerprint']}"
        + (f" (from {record['schema_path']})" if record.get("schema_path") else ""),
        f"time           {record.get('time_field') or 'rx_time'} ({record['time_unit']})",
        f"config         {json.dumps(record.get('config') or {}, sort_keys=True)}",
        f"multicast      full {record['multicast']['full']}, decimated "
        f"{record['multicast']['decimated']}",
        f"last heartbeat {record.get('last_heartbeat') or '-'}",
        f"created        {record['created_at']}, updated {record['updated_at']}",
    ]
    if record.get("last_error"):
        lines.append(f"last error     {record['last_error']}")
    for key in sorted(counters):
        value = _total(counters[key]) if key == "rejected" else counters[key]
        lines.append(f"  {key:<18} {value}")
    return "\n".join(lines) + "\n"


def _check_choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise CliError(f"{option} {value!r} is not one of {', '.join(choices)}", 2)
