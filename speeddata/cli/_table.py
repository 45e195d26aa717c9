"""The rows and the table of ``sdctl status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("channel", "CHANNEL"),
    ("relay", "RELAY"),
    ("restarts", "RESTARTS"),
    ("state", "STATE"),
    ("rate", "REC/S"),
    ("records", "RECORDS"),
    ("archived", "ARCHIVED"),
    ("kernel_drops", "DROPS"),
    ("rejected", "REJECTS"),
    ("unarchived", "UNARCHIVED"),
    ("file", "FILE"),
)


def status_rows(channels: list[str], latest: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per channel (configured ones first, then any other the bus knows), from the
    latest ``relay.status.<channel>`` and ``ingest.relay.<channel>`` events by topic."""
    heard = sorted(
        {t.rsplit(".", 1)[1] for t in latest if t.startswith(("relay.status.", "ingest.relay."))}
    )
    names = channels + [n for n in heard if n not in channels]
    return [
        _row(n, latest.get(f"relay.status.{n}"), latest.get(f"ingest.relay.{n}")) for n in names
    ]


def _row(name: str, relay: dict[str, Any] | None, ingest: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"channel": name, "relay": "-", "restarts": None, "state": "no status"}
    if ingest is not None:
        row["relay"] = ingest["action"]
        row["restarts"] = ingest["restarts"]
        if ingest["action"] != "started" and ingest.get("detail"):
            row["relay_detail"] = ingest["detail"]
    if relay is not None:
        state = relay["state"]
        row.update(
            state=f"{state} ({relay['reason']})" if relay.get("reason") else state,
            rate=round(float(relay["record_rate"]), 1),
            records=relay["records"],
            archived=relay["archived"],
            kernel_drops=relay["kernel_drops"],
            rejected=sum(relay["rejected"].values()),
            unarchived=relay["unarchived"],
            file=relay["current_file"],
        )
    return row


def status_table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table (file names without their directory)."""
    cells = [[title for _, title in COLUMNS]]
    for row in rows:
        cells.append([_cell(key, row.get(key)) for key, _ in COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "file":
        return Path(value).name
    return str(value)


def janitor_line(status: dict[str, Any]) -> str:
    """What ``janitor.status`` says, as one line: files deleted since it started and why, what
    the archive holds, the disk's free space."""
    files, freed = status["deleted_files"], status["deleted_bytes"]
    why = ", ".join(f"{reason} {n}" for reason, n in files.items() if n) or "none"
    verb = "would delete" if status["dry_run"] else "deleted"
    return (
        f"janitor: {verb} {sum(files.values())} files ({_mib(sum(freed.values()))}; {why});"
        f" archive {status['archive_files']} files, {_mib(status['archive_bytes'])};"
        f" {_mib(status['free_bytes'])} free; {status['pinned']} kept for pending tags\n"
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
