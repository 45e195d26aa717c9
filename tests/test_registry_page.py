"""The registration page at ``GET /`` in real headless Chromium (Debian's ``chromium``, driven by
Playwright's sync API) against the real registry service beside a real bus proxy: a logged-out
visitor sees the table and how to log in; the one-time login link lets a browser register a
channel from an uploaded .avsc, read its schema and versions, and remove it after a confirm;
user data shows as text, never as markup; errors show the API's ``detail``; the table follows
the registry by itself; the theme follows the system and the toggle. One test runs it all for
real (ingest starts the relay of a channel registered on the page, a Sender sends): the page
shows the channel turn active with a rising count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    BrowserContext,
    Page,
    expect,
)

from services.registry.auth import COOKIE, login_link, session_cookie
from speeddata import Sender
from speeddata.bus import Publisher
from speeddata.config import ROOT, load_settings
from speeddata.demo import demo_records
from tests.browsertools import WAIT_MS, new_context, open_page
from tests.procs import Proc, wait_until
from tests.registrytools import AUTH, TOKEN
from tests.system import System, free_channel_ports, make_system

XSS = '<img src=x onerror="document.body.dataset.xss=1">'

expect.set_options(timeout=WAIT_MS)  # generous: the machine is shared


def record_schema(name: str = "engine", doc: str = "engine telemetry", **more: Any) -> dict:
    fields = [
        {"name": "time", "type": {"type": "long", "logicalType": "timestamp-micros"},
         "doc": "device clock"},
        {"name": "rpm", "type": "double", "doc": "shaft speed"},
        *more.pop("extra_fields", []),
    ]  # fmt: skip
    return {"type": "record", "name": name, "namespace": "test.page", "doc": doc,
            "fields": fields, **more}  # fmt: skip


class Registry:
    """The running service: its page's URL, a REST client with the token, a way to log in."""

    def __init__(self, system: System, proc: Proc) -> None:
        self.system = system
        self.url = f"http://{proc.ready['http']}"
        self.port = int(proc.ready["http"].rsplit(":", 1)[1])
        self.rest = httpx.Client(base_url=self.url + "/api/v1", headers=AUTH, timeout=10)
        self.settings = load_settings(config_file=system.config, environ=system.env)

    def login_link(self) -> str:
        return login_link(self.settings, self.port, TOKEN)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("page")
    system = make_system(tmp, relay_binary, registry={"stale_s": 3})
    system.env["SPEEDDATA_TOKEN"] = TOKEN
    started: list[Proc] = []
    try:
        started.append(system.start("-m", "services.bus"))
        started.append(system.start("-m", "services.registry"))
        reg = Registry(system, started[-1])
        yield reg
        reg.rest.close()
    finally:
        for proc in reversed(started):
            proc.stop()


def logged_in(browser: BrowserContext, registry: Registry) -> tuple[Page, list[str]]:
    page, problems = open_page(browser, registry.login_link())
    expect(page).to_have_url(registry.url + "/")
    expect(page.locator("#session")).to_have_text("signed in")
    return page, problems


def row(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#channels tbody tr[data-channel="{name}"]')


def write_schema(path: Path, schema: dict) -> Path:
    path.write_text(json.dumps(schema))
    return path


def register_upload(page: Page, name: str, port: int, schema_file: Path) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=port]", str(port))
    page.check("input[name=schema-source][value=file]")
    page.set_input_files("input[name=schema-file]", str(schema_file))
    page.click("#register-submit")


@pytest.mark.parametrize("db_url", [""])  # the page is the same on any database
def test_the_page_is_html_with_a_strict_policy(make_client):
    client = make_client()
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["cache-control"] == "no-store"
    assert 'data-can-write="false"' in answer.text and 'id="register"' not in answer.text
    client.cookies.set(COOKIE, "forged")
    assert 'data-can-write="false"' in client.get("/").text
    client.cookies.set(COOKIE, session_cookie(TOKEN))
    assert 'data-can-write="true"' in client.get("/").text
    script = client.get("/static/page.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    missing = client.get("/static/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("db_url", [""])  # the page is the same on any database
def test_an_open_registry_lets_every_visitor_change(make_client):
    text = make_client(auth="none").get("/").text
    assert 'data-can-write="true"' in text and 'id="register"' in text
    assert "open registry" in text


def test_logged_out_visitor_sees_the_table_and_how_to_log_in(browser, registry):
    page, problems = open_page(browser, registry.url + "/")
    seeded = sorted(registry.system.ports)
    for name in seeded:
        expect(row(page, name)).to_contain_text(str(registry.system.ports[name]))
    expect(page.locator("#session")).to_have_text("read-only")
    expect(page.locator("#login-note")).to_contain_text("sdctl up")
    assert page.locator("#register").count() == 0
    assert page.locator("#channels button", has_text="Remove").count() == 0
    # the schema viewer is open to everyone
    row(page, seeded[0]).get_by_role("button", name="Schema").click()
    expect(page.locator("#schema-title")).to_have_text(f"Schema of {seeded[0]}")
    assert problems == []
    # a change without the cookie is refused by the registry
    status = page.evaluate(
        "async (name) => (await fetch('/api/v1/channels/' + name, {method: 'DELETE'})).status",
        seeded[0],
    )
    assert status == 401
    assert registry.rest.get(f"/channels/{seeded[0]}").status_code == 200


def test_login_link_is_good_once(browser, registry):
    link = registry.login_link()
    page, _ = open_page(browser, link)
    expect(page.locator("#session")).to_have_text("signed in")
    answer = page.goto(link)
    assert answer is not None and answer.status == 401
    assert "used already" in answer.json()["detail"]


def test_register_view_versions_and_remove(browser, registry, tmp_path):
    page, problems = logged_in(browser, registry)
    [port] = free_channel_ports(1)
    v1 = write_schema(tmp_path / "engine.avsc", record_schema())
    register_upload(page, "engine", port, v1)
    expect(page.locator("#register-message")).to_contain_text("registered")
    expect(row(page, "engine")).to_contain_text(str(port))
    expect(row(page, "engine")).to_contain_text("engine v1")
    assert registry.rest.get("/channels/engine").json()["schema"]["fields"][1]["name"] == "rpm"

    row(page, "engine").get_by_role("button", name="Schema").click()
    viewer = page.locator("#schema-view")
    expect(page.locator("#schema-title")).to_have_text("Schema of engine")
    expect(viewer.locator("#schema-versions button")).to_have_text(["v1"])
    expect(viewer.locator("#schema-fields tbody tr")).to_have_count(2)
    expect(viewer.locator("#schema-fields")).to_contain_text("long (timestamp-micros)")
    expect(viewer.locator("#schema-doc")).to_have_text("engine telemetry")

    # firmware adds a field (with a default: the new schema reads the old data)
    temp = {"name": "temp", "type": "float", "default": 0.0, "doc": "oil temperature"}
    r = registry.rest.patch("/channels/engine", json={"schema": record_schema(extra_fields=[temp])})
    assert r.status_code == 200, r.text
    expect(row(page, "engine")).to_contain_text("engine v2")  # the table refreshed by itself
    row(page, "engine").get_by_role("button", name="Schema").click()
    expect(viewer.locator("#schema-versions button")).to_have_text(["v1", "v2"])
    expect(viewer.locator('button[aria-pressed="true"]')).to_have_text("v2")
    expect(viewer.locator("#schema-fields tbody tr")).to_have_count(3)
    expect(viewer.locator("#schema-fields")).to_contain_text("oil temperature")
    viewer.get_by_role("button", name="v1").click()
    expect(viewer.locator("#schema-fields tbody tr")).to_have_count(2)
    versions = registry.rest.get("/channels/engine/schemas").json()["versions"]
    expect(viewer.locator("#schema-meta")).to_contain_text(versions[0]["fingerprint"])

    # remove: cancelling the confirm keeps it, confirming removes it
    row(page, "engine").get_by_role("button", name="Remove").click()
    dialog = page.locator("#confirm-remove")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("engine")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(500)
    assert registry.rest.get("/channels/engine").status_code == 200
    row(page, "engine").get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Remove").click()
    expect(page.locator("#message")).to_contain_text("removed")
    expect(row(page, "engine")).to_have_count(0)
    expect(viewer).to_be_hidden()
    assert registry.rest.get("/channels/engine").status_code == 404
    assert problems == []


def test_schema_doc_with_html_shows_as_text(browser, registry, tmp_path):
    page, problems = logged_in(browser, registry)
    [port] = free_channel_ports(1)
    field = {"name": "note", "type": "string", "default": XSS, "doc": "field " + XSS}
    schema = record_schema("xss", doc=XSS, extra_fields=[field])
    register_upload(page, "xss", port, write_schema(tmp_path / "xss.avsc", schema))
    expect(row(page, "xss")).to_contain_text(str(port))
    row(page, "xss").get_by_role("button", name="Schema").click()
    expect(page.locator("#schema-doc")).to_have_text(XSS)
    expect(page.locator("#schema-fields")).to_contain_text("field " + XSS)
    expect(page.locator("#schema-fields")).to_contain_text(json.dumps(XSS))
    page.locator("#schema-view summary").click()
    expect(page.locator("#schema-json")).to_contain_text("onerror")
    assert page.locator("img").count() == 0
    assert page.evaluate("document.body.dataset.xss") is None
    # an error that repeats what was sent shows it as text too
    page.check("input[name=schema-source][value=path]")
    page.fill("input[name=name]", "xss2")
    page.fill("input[name=port]", str(free_channel_ports(1)[0]))
    page.fill("input[name=schema-path]", "config/<b>bold</b>.avsc")
    page.click("#register-submit")
    expect(page.locator("#register-message")).to_contain_text("<b>bold</b>")
    assert page.locator("#register-message b").count() == 0
    registry.rest.delete("/channels/xss")
    assert problems == []


def test_errors_show_the_api_detail(browser, registry, tmp_path):
    page, problems = logged_in(browser, registry)
    name, port = next(iter(registry.system.ports.items()))
    schema = write_schema(tmp_path / "dup.avsc", record_schema())
    register_upload(page, name, port, schema)
    message = page.locator("#register-message")
    expect(message).to_have_class("message error")
    expect(message).to_have_attribute("role", "alert")
    answer = registry.rest.post(
        "/channels", json={"name": name, "port": port, "schema": record_schema()}
    )
    assert answer.status_code == 409
    expect(message).to_have_text(answer.json()["detail"])
    # a file that is not a schema
    bad = tmp_path / "bad.avsc"
    bad.write_text("{not json")
    register_upload(page, "newname", free_channel_ports(1)[0], bad)
    expect(message).to_contain_text("the schema file is not JSON")
    assert registry.rest.get("/channels/newname").status_code == 404
    assert problems == []


def test_port_left_empty_takes_the_first_free_one(browser, registry, tmp_path):
    page, problems = logged_in(browser, registry)
    free = registry.rest.get("/ports/available").json()["available"][0]
    page.fill("input[name=name]", "autoport")
    page.check("input[name=schema-source][value=path]")
    page.fill("input[name=schema-path]", "config/agents/example.avsc")
    page.locator("#register details summary").click()
    page.fill("input[name=decimation]", "5")
    page.select_option("select[name=algorithm]", "mean")
    page.click("#register-submit")
    expect(row(page, "autoport")).to_contain_text(str(free))
    channel = registry.rest.get("/channels/autoport").json()
    assert channel["port"] == free and channel["schema_path"] == "config/agents/example.avsc"
    assert channel["config"] == {"decimation": 5, "algorithm": "mean"}
    registry.rest.delete("/channels/autoport")
    expect(row(page, "autoport")).to_have_count(0)  # gone by itself: the table refreshes
    assert problems == []


def test_status_and_counters_follow_the_relay_status_heard(browser, registry):
    """The table shows what the registry heard from a channel's relay (``relay.status`` on the
    real bus, published here as a relay publishes it) and keeps following it."""
    page, problems = open_page(browser, registry.url + "/")
    name = next(iter(registry.system.ports))
    with Publisher("relay", name, endpoint=registry.system.xsub) as pub:
        for records in (100, 250):
            status = {"channel": name, "state": "running", "reason": "", "received": records,
                      "bytes": records * 10, "records": records,
                      "rejected": {"utf8": 2, "truncated": 1}, "kernel_drops": 4,
                      "archived": records, "unarchived": 0, "archive_bytes": 0, "files": 1,
                      "quarantined": 3, "quarantine_dropped": 0, "forwarded": records,
                      "decimated": records, "mcast_errors": 0, "bus_dropped": 0, "rate": 50.0,
                      "record_rate": 50.0, "current_file": None,
                      "started": time.time_ns()}  # fmt: skip
            cells = row(page, name).locator("td")
            deadline = time.monotonic() + 15
            while cells.nth(5).text_content() != f"{records}" and time.monotonic() < deadline:
                pub.publish(f"relay.status.{name}", status)
                page.wait_for_timeout(300)
            expect(cells.nth(3)).to_have_text("active")
            expect(cells.nth(4)).to_have_text("50.0/s")
            expect(cells.nth(5)).to_have_text(str(records))
            expect(cells.nth(6)).to_have_text("4")
            expect(cells.nth(7)).to_have_text("3")
    assert problems == []


BACKGROUNDS = {"light": "rgb(246, 247, 249)", "dark": "rgb(15, 19, 24)"}


def test_theme_follows_the_system_and_the_toggle(playwright, registry, tmp_path):
    for scheme, other in (("dark", "light"), ("light", "dark")):
        context = new_context(playwright, tmp_path / f"profile-{scheme}", color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(registry.url + "/")
            expect(row(page, next(iter(registry.system.ports)))).to_be_visible()
            background = "getComputedStyle(document.body).backgroundColor"
            assert page.evaluate(background) == BACKGROUNDS[scheme]
            page.get_by_role("button", name=f"Switch to the {other} theme").click()
            assert page.evaluate("document.documentElement.dataset.theme") == other
            assert page.evaluate(background) == BACKGROUNDS[other]
            page.reload()  # the choice is kept
            expect(page.get_by_role("button", name=f"Switch to the {scheme} theme")).to_be_visible()
            assert page.evaluate(background) == BACKGROUNDS[other]
        finally:
            context.close()


def test_a_failed_relay_shows_its_last_error_line_as_text(browser, registry):
    page, problems = open_page(browser, registry.url + "/")
    name = sorted(registry.system.ports)[-1]
    detail = "cannot bind <i>127.0.0.1</i>: Address already in use"
    status = row(page, name).locator("td").nth(3)
    with Publisher("ingest", "page-test", endpoint=registry.system.xsub) as pub:
        deadline = time.monotonic() + 15
        while "failed" not in (status.text_content() or "") and time.monotonic() < deadline:
            failed = {"channel": name, "port": registry.system.ports[name], "action": "backoff",
                      "repeat": False, "changed": time.time_ns(), "pid": 1, "exit_code": 2,
                      "signal": None, "detail": detail, "restarts": 3, "delay_s": 1.0,
                      "runtime_s": 0.1}  # fmt: skip
            pub.publish(f"ingest.relay.{name}", failed)
            page.wait_for_timeout(300)
    expect(status.locator(".status")).to_have_text("failed")
    expect(status.locator(".why")).to_have_text(detail)
    assert status.locator("i").count() == 0
    assert problems == []


def test_a_channel_registered_on_the_page_captures(browser, tmp_path, relay_binary, procs):
    """All real: bus, registry, ingest (which follows the registry), the relay it starts and a
    device's Sender; the page shows the new channel turn active with a rising count."""
    system = make_system(tmp_path, relay_binary, ingest={"registry_poll_s": 2.0})
    system.env["SPEEDDATA_TOKEN"] = TOKEN
    procs.append(system.start("-m", "services.bus"))
    procs.append(system.start("-m", "services.registry"))
    reg = Registry(system, procs[-1])
    procs.append(system.start("-m", "services.ingest"))
    page, problems = logged_in(browser, reg)
    [port] = free_channel_ports(1)
    register_upload(page, "sensor", port, ROOT / "config" / "agents" / "example.avsc")
    expect(row(page, "sensor")).to_contain_text(str(port))
    cells = row(page, "sensor").locator("td")
    records = demo_records("example", seed=5)
    schema = json.loads((ROOT / "config" / "agents" / "example.avsc").read_text())

    def count() -> int:
        text = (cells.nth(5).text_content() or "").replace(",", "")
        return int(text) if text.isdigit() else 0

    with Sender(schema, "127.0.0.1", port) as sender:

        def counted_beyond(n: int) -> bool:
            sender.send_many(next(records) for _ in range(5))
            page.wait_for_timeout(200)
            return count() > n

        wait_until(lambda: counted_beyond(0), timeout=30, interval=0.3, what="records counted")
        expect(cells.nth(3)).to_have_text("active")
        first = count()
        wait_until(lambda: counted_beyond(first), timeout=30, interval=0.3, what="a rising count")
    assert problems == []
