"""The gateway's page routes in-process (Starlette TestClient on ``pages.routes`` alone): the
dashboard under a strict policy, ``/pages/<name>`` serving ``config/pages/<name>.html`` and
nothing outside it, the charts' script, and uPlot's files from node_modules (``make deps``).
The pages in a real browser against the real gateway: tests/test_stripchart_browser.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from services.stripchart import pages
from speeddata._webpages import service_url
from speeddata.config import load_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("pages"), environ={})
    with TestClient(Starlette(routes=pages.routes(settings))) as c:
        yield c


def test_dashboard_is_html_under_a_strict_policy(client):
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["cache-control"] == "no-store"
    scripts = ("stripchart.js", "dashboard.js", "uplot/uPlot.iife.min.js")
    for asset in (f"/static/{name}" for name in scripts):
        assert f'src="{asset}"' in answer.text
    assert '<a href="/pages/example">example</a>' in answer.text  # the pages are listed


def test_dashboard_names_the_pivot_of_the_settings(client):
    pivot = load_settings(environ={}).pivot
    assert f'data-pivot="http://{pivot.bind}:{pivot.port}"' in client.get("/").text


def test_service_url_uses_the_browser_host_for_a_wildcard_bind():
    class Url:
        hostname = "plant-7.example"

    class Req:
        url = Url()

    assert service_url(Req(), "0.0.0.0", 8000) == "http://plant-7.example:8000"  # type: ignore[arg-type]
    assert service_url(Req(), "127.0.0.1", 8000) == "http://127.0.0.1:8000"  # type: ignore[arg-type]
    assert service_url(Req(), "::1", 8000) == "http://[::1]:8000"  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/pages/example", "/pages/example.html"])
def test_a_page_is_served_as_written(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.text == (pages.PAGES_DIR / "example.html").read_text()
    assert '<script src="/static/stripchart.js"' in answer.text
    assert 'class="stripchart" data-signals="example.sine_wave,example.ramp"' in answer.text


@pytest.mark.parametrize(
    "name",
    [
        "nosuch",
        "..%2Fspeeddata.yaml",
        "..%2F..%2Fpyproject.toml",
        "%2Fetc%2Fpasswd",
        "sub/example",
        ".hidden",
        "example.txt",
        "a" * 65,
        "ex%00ample",
    ],
)
def test_other_names_get_404_in_the_error_shape(client, name):
    answer = client.get(f"/pages/{name}")
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_found" and "config/pages/" in body["detail"]


def test_the_scripts_and_uplot_are_served(client):
    script = client.get("/static/stripchart.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    if not pages.UPLOT_DIR.is_dir():
        pytest.fail("node_modules/uplot is missing: run `make deps` (npm ci)")
    uplot = client.get("/static/uplot/uPlot.iife.min.js")
    assert uplot.status_code == 200 and "uPlot" in uplot.text
    assert client.get("/static/uplot/uPlot.min.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/uplot/../../pages.py").status_code == 404


def test_the_tag_proxy_says_when_the_pivot_does_not_answer(tmp_path):
    """The dashboard's /api/v1/tags goes to the pivot; a pivot that is not there is a 503 in the
    one error shape (the page then says the tags are unknown)."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(data_dir=tmp_path, environ={}).override(pivot={"port": port})
    with TestClient(Starlette(routes=pages.routes(settings))) as c:
        for answer in (c.get("/api/v1/tags"), c.post("/api/v1/tags", json={"name": "x"}),
                       c.get("/api/v1/tags/x")):  # fmt: skip
            assert answer.status_code == 503
            assert answer.json()["error"] == "pivot_unreachable"
            assert f"127.0.0.1:{port}" in answer.json()["detail"]
