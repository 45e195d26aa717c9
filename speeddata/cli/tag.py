"""``sdctl tag add|list|get|rm``: tags, a range of channels kept beyond the archive's retention
(the pivot's ``/api/v1/tags``).

Every command talks to the pivot of the settings (``pivot.bind``/``pivot.port``) or ``--url``;
``rm`` sends the token (``SPEEDDATA_TOKEN``, else ``<data dir>/token``). A refusal, or a pivot
that does not answer, is one line ``sdctl: error: ...``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from speeddata.cli._common import CliError, ConfigOption, DataDirOption, settings_from, write_out
from speeddata.cli.export import (
    ChannelsOption,
    DurationOption,
    EndOption,
    PivotUrlOption,
    SignalsOption,
    StartOption,
)
from speeddata.client import Client, ClientError

app = typer.Typer(
    no_args_is_help=True,
    help="Tag a range of channels (kept as a file, safe from retention); list, show, remove tags.",
)

UrlOption = PivotUrlOption
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NameArg = Annotated[str, typer.Argument(help="Tag name.", show_default=False)]


@contextmanager
def _client(url: str | None, config: Any, data_dir: Any) -> Iterator[Client]:
    settings = settings_from(config, data_dir)
    try:
        with Client(settings=settings, pivot_url=url) as client:
            yield client
    except ClientError as e:
        raise CliError(str(e)) from None
    except TimeoutError as e:
        raise CliError(str(e)) from None


@app.command("add")
def add(
    name: NameArg,
    start: StartOption,
    channels: ChannelsOption,
    duration: DurationOption = None,
    end: EndOption = None,
    signals: SignalsOption = None,
    note: Annotated[str, typer.Option("--note", help="Why this range matters.")] = "",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="hdf5, csv or parquet (the tag's file).")
    ] = "hdf5",
    clock: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="The range's clock: device (default where declared) or rx.",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the export is done (or failed).")
    ] = False,
    url: UrlOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Tag a range: pinned at once (retention keeps its archive files), exported to a file."""
    with _client(url, config, data_dir) as client:
        tag = client.tag(name, start, channels, end=end, duration=duration, signals=signals,
                         note=note or None, format=fmt, time=clock)  # fmt: skip
        if wait:
            tag = client.wait_tag(name)
    _show(tag, as_json)
    if tag["state"] == "failed":
        raise CliError(f"tag {name}: export failed: {tag['reason']}")


@app.command("list")
def list_tags(
    url: UrlOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the tags: state, range, channels, records, size."""
    with _client(url, config, data_dir) as client:
        tags = client.tags()
    if as_json:
        for tag in tags:
            write_out(json.dumps(tag) + "\n")
        return
    rows = [["NAME", "STATE", "START", "END", "CHANNELS", "RECORDS", "SIZE"]]
    for t in tags:
        records = sum((t.get("records") or {}).values()) if t.get("records") else "-"
        rows.append([t["name"], t["state"], t["start"], t["end"], ",".join(t["channels"]),
                     str(records), str(t["size"] if t["size"] is not None else "-")])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    write_out("".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                      + "\n" for r in rows))  # fmt: skip


@app.command("get")
def get(
    name: NameArg,
    url: UrlOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one tag: state (pending, done, failed and why), range, file, size, sha256."""
    with _client(url, config, data_dir) as client:
        _show(client.get_tag(name), as_json)


@app.command("rm")
def rm(
    name: NameArg,
    url: UrlOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remove a tag and its file (its range's archive files are then retention's again)."""
    with _client(url, config, data_dir) as client:
        client.delete_tag(name)
    write_out(f"tag {name} removed\n")


def _show(tag: dict[str, Any], as_json: bool) -> None:
    if as_json:
        write_out(json.dumps(tag) + "\n")
        return
    keys = ("name", "state", "reason", "start", "end", "clock", "channels", "signals", "format",
            "note", "file", "size", "records", "sha256", "created", "finished")  # fmt: skip
    lines = []
    for key in keys:
        value = tag.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ",".join(value)
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{key:<9} {value}\n")
    write_out("".join(lines))
