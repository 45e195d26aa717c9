"""The relay's generated header of event fingerprints matches the schemas in proto/."""

from __future__ import annotations

import importlib.util

from speeddata.config import ROOT

TOOL = ROOT / "native" / "zmq_relay" / "tools" / "gen_proto_h.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_proto_h", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_header_is_current() -> None:
    tool = _tool()
    assert tool.HEADER.read_text() == tool.render(), (
        "native/zmq_relay/include/zr_proto.h is stale: run "
        ".venv/bin/python native/zmq_relay/tools/gen_proto_h.py"
    )
