"""examples/dataset.ipynb executed for real (nbclient on an ipykernel): records sent to the real
relay, exported by the real pivot (Client.export, the notebook's default), from an HDF5 file
saved before, or read from the archive directly; plotted and summed up: the notebook's figure
and numbers are those of the records sent."""

from __future__ import annotations

import ast
import json
import math
import time
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from speeddata.columnar import channel_files, read_channel
from speeddata.config import ROOT
from speeddata.hdf5 import write_hdf5
from tests.procs import Proc
from tests.relaytools import encode_fastavro, start_relay
from tests.system import make_system

NOTEBOOK = ROOT / "examples" / "dataset.ipynb"
EXAMPLE_SCHEMA = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())
COUNT = 400
T0 = 1_764_547_200_000_000_000  # 2025-12-01T00:00:00Z
STEP = 10_000_000  # 100 Hz
WORDS = ["alpha", "beta", "gamma"]


def example_record(i: int, t0: int = T0) -> dict[str, Any]:
    return {
        "time": t0 + i * STEP,
        "message": WORDS[i % 3],
        "counter": i,
        "sine_wave": math.sin(2 * math.pi * i / 20),
        "ramp": -1 + (i % 40) / 20,
        "square_wave": 1.0 if i % 20 < 10 else -1.0,
        "noise": ((i * 7919) % 1000) / 1000 - 0.5,
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Any:
    """A data dir whose example channel the real relay archived COUNT records into."""
    procs: list[Proc] = []
    data_dir = tmp_path_factory.mktemp("notebook") / "data"
    relay = start_relay(procs, relay_binary, data_dir, schema=EXAMPLE_SCHEMA, channel="example")
    relay.send(encode_fastavro(EXAMPLE_SCHEMA, example_record(i)) for i in range(COUNT))
    relay.wait_archived(COUNT)
    yield data_dir
    for proc in procs:
        proc.stop()


def run_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """Executes the notebook in a fresh kernel with ``env`` set; returns it with outputs."""
    for key in ("SPEEDDATA_EXPORT", "SPEEDDATA_ARCHIVE", "SPEEDDATA_EXAMPLE_LAST"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports the speeddata under test
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


def summary_of(nb: Any) -> dict[str, Any]:
    last = nb.cells[-1].outputs[-1]
    return dict(ast.literal_eval(last["data"]["text/plain"]))


def assert_notebook_shows_the_records(nb: Any, t0: int = T0) -> None:
    sent = [example_record(i, t0) for i in range(COUNT)]
    summary = summary_of(nb)
    sine = np.array([r["sine_wave"] for r in sent])
    high = [r for r in sent if r["square_wave"] > 0]
    assert summary["rows"] == COUNT
    assert summary["first"] == str(np.datetime64(t0, "ns"))
    assert summary["last"] == str(np.datetime64(t0 + (COUNT - 1) * STEP, "ns"))
    assert summary["sine_mean"] == pytest.approx(sine.mean(), abs=1e-12)
    assert (summary["sine_min"], summary["sine_max"]) == (sine.min(), sine.max())
    assert summary["square_high"] == len(high)
    assert summary["first_high"] == str(np.datetime64(high[0]["time"], "ns"))
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the plot cell shows one figure"
    text = "".join(o.get("text", "") for o in outputs)
    assert "interval: median 0.010000 s" in text
    reprs = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert any(r.startswith("Set: 1 channel, 400 rows") for r in reprs)
    assert any(r.startswith("Channel example: 7 signals, 400 rows") for r in reprs)


def test_the_notebook_on_an_hdf5_export(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns = read_channel(channel_files(archive, "example"))
    export = tmp_path / "export.h5"
    write_hdf5([columns], export, compression="gzip:1")
    nb = run_notebook(tmp_path, monkeypatch, SPEEDDATA_EXPORT=str(export))
    assert_notebook_shows_the_records(nb)


def test_the_notebook_on_the_archive_directly(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_notebook(
        tmp_path, monkeypatch, SPEEDDATA_ARCHIVE=str(archive), SPEEDDATA_EXAMPLE_LAST=""
    )
    assert_notebook_shows_the_records(nb)


def test_the_notebook_on_a_pivot_export(
    tmp_path: Path, relay_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a user runs it next to `sdctl up`: no setting, Client.export of the last 5 minutes
    from the pivot (here the pivot and a relay alone: the pivot reads the channel from its
    archive files when no registry answers)."""
    system = make_system(tmp_path, relay_binary)
    procs: list[Proc] = []
    try:
        relay = start_relay(
            procs, relay_binary, system.data_dir, schema=EXAMPLE_SCHEMA, channel="example"
        )
        t0 = time.time_ns() - 30 * 10**9
        relay.send(encode_fastavro(EXAMPLE_SCHEMA, example_record(i, t0)) for i in range(COUNT))
        relay.wait_archived(COUNT)
        procs.append(system.start("-m", "services.pivot"))
        env = {k: system.env[k] for k in ("SPEEDDATA_CONFIG", "SPEEDDATA_DATA_DIR")}
        nb = run_notebook(tmp_path, monkeypatch, **env)
        assert_notebook_shows_the_records(nb, t0)
    finally:
        for proc in reversed(procs):
            proc.stop()
