"""The gateway's WebSocket protocol (proto/WS.md) against a real gateway process: the Origin
check, hello, and bad client messages answered with an error message, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from tests.procs import Proc
from tests.stripcharttools import gateway_url, open_ws, recv, recv_type, send, start_services
from tests.system import System, make_system


@pytest.fixture
def system(tmp_path: Path, relay_binary: Path) -> System:
    return make_system(
        tmp_path,
        relay_binary,
        stripchart={"port": 0, "allowed_origins": ["http://localhost:9999"]},
    )


@pytest.fixture
def url(system: System, procs: list[Proc]) -> str:
    return gateway_url(start_services(system, procs, ("stripchart",)).ready)


def test_hello_then_advertised_channels(url: str) -> None:
    with open_ws(url) as ws:
        hello = recv_type(ws, "hello")
        assert hello["version"] == 1 and hello["max_fps"] == 60


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:9999", "http://localhost:9999", "http://LOCALHOST:9999"]
)
def test_allowed_origins_in_both_spellings(url: str, origin: str) -> None:
    with open_ws(url, origin) as ws:
        assert recv_type(ws, "hello")


def test_own_and_registry_page_origins_accepted(url: str, system: System) -> None:
    host = url.removeprefix("ws://").removesuffix("/ws")
    registry = yaml.safe_load(system.config.read_text())["registry"]["port"]
    for origin in (
        f"http://{host}",
        f"http://127.0.0.1:{registry}",
        f"http://localhost:{registry}",
    ):
        with open_ws(url, origin) as ws:
            assert recv_type(ws, "hello")


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1:9998", "null", "https://localhost:9999"]
)
def test_other_origins_refused(url: str, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_ws(url, origin)
    assert refused.value.response.status_code == 403


BAD = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"type": "dance"}', "bad_type"),
    ("{}", "bad_type"),
    ('{"type": "subscribe"}', "bad_field"),
    ('{"type": "subscribe", "id": 0, "signals": []}', "bad_field"),
    ('{"type": "subscribe", "id": "1", "signals": []}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": "example.x"}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": ["nodot"]}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": ["a..b"]}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "window": -1}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "window": "30"}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "window": 1e9}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "width": 1.5}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "width": 99999}', "bad_field"),
    ('{"type": "subscribe", "id": 1, "signals": [], "history": 1}', "bad_field"),
    ('{"type": "unsubscribe", "id": 7}', "unknown_id"),
    ('{"type": "unsubscribe"}', "bad_field"),
    ("x" * 70000, "too_large"),
]


def test_bad_messages_answered_with_errors(url: str) -> None:
    with open_ws(url) as ws:
        recv_type(ws, "hello")
        for text, code in BAD:
            ws.send(text)
            error = recv_type(ws, "error")
            assert error["error"] == code, (text[:80], error)
            assert error["detail"]
        ws.send(b"\x00\x01binary")
        assert recv_type(ws, "error")["error"] == "binary"
        _still_answers(ws)


def test_too_many_signals(url: str) -> None:
    with open_ws(url) as ws:
        recv_type(ws, "hello")
        send(ws, type="subscribe", id=3, signals=[f"c.s{i}" for i in range(300)])
        error = recv_type(ws, "error")
        assert (error["error"], error["id"]) == ("too_many", 3)
        _still_answers(ws)


def _still_answers(ws: ClientConnection) -> None:
    send(ws, type="ping", id="p")
    while True:
        msg = recv(ws)
        if isinstance(msg, dict) and msg["type"] == "pong":
            assert msg["id"] == "p"
            return
        assert not isinstance(msg, dict) or msg["type"] != "error", json.dumps(msg)
