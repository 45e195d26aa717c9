"""The stripchart pages in real headless Chromium (Debian's ``chromium``, driven by Playwright)
against the whole system, all real: bus, registry, ingest with the relays it starts, the
stripchart gateway, and devices (``speeddata.Sender``) sending the demo channels. The
dashboard, the example page (``config/pages/example.html``) and the registry's page draw live
data (the charts' rows grow, the latest values change), follow the system's theme live, survive
a restart of the gateway, and show a channel registered while they are open; no page logs an
error (but Chromium's own line about a refused WebSocket while the gateway is down).

Screenshots go to ``.artifacts/pages/`` under the checkout (ignored by git), or to
``$SPEEDDATA_TEST_ARTIFACTS/pages/``."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from speeddata import Sender, read_hdf5
from speeddata.config import ROOT
from speeddata.demo import demo_records
from tests.browsertools import WAIT_MS, WS_REFUSED, open_page
from tests.procs import Proc, wait_until
from tests.registrytools import AUTH, TOKEN
from tests.system import System, free_channel_ports, make_system

pytest.importorskip("services.stripchart.app", reason="the stripchart gateway is not there")

ARTIFACTS = Path(os.environ.get("SPEEDDATA_TEST_ARTIFACTS") or ROOT / ".artifacts") / "pages"
RATE_HZ = 50.0
"""Records a second each demo device sends."""
SCHEMAS = {name: ROOT / "config" / "agents" / f"{name}.avsc" for name in ("example", "temperature")}

expect.set_options(timeout=WAIT_MS)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class Devices:
    """Senders of demo records, one thread: each channel at RATE_HZ."""

    def __init__(self) -> None:
        self.targets: dict[str, tuple[Sender, Iterator[dict]]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, channel: str, port: int, demo: str) -> None:
        schema = json.loads(SCHEMAS[demo].read_text())
        with self.lock:
            self.targets[channel] = (Sender(schema, "127.0.0.1", port), demo_records(demo, seed=1))

    def _run(self) -> None:
        while not self.stop.wait(1 / RATE_HZ):
            with self.lock:
                for sender, records in self.targets.values():
                    sender.send(next(records))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sender, _ in self.targets.values():
            sender.close()


class Live:
    """The running system: its URLs, the gateway process (restartable), the devices."""

    def __init__(self, system: System, procs: list[Proc]) -> None:
        self.system = system
        self.procs = procs
        self.registry = f"http://{procs[1].ready['http']}"
        self.pivot = f"http://{procs[3].ready['http']}"
        self.gateway = self.start_gateway()
        self.url = f"http://{self.gateway.ready['http']}"
        self.rest = httpx.Client(base_url=self.registry + "/api/v1", headers=AUTH, timeout=10)
        self.devices = Devices()
        for name, port in system.ports.items():
            self.devices.add(name, port, name)

    def start_gateway(self) -> Proc:
        return self.system.start("-m", "services.stripchart")

    def restart_gateway(self, down_s: float, while_down: Any = None) -> None:
        self.gateway.stop()
        if while_down:
            while_down()
        time.sleep(down_s)
        self.gateway = self.start_gateway()

    def close(self) -> None:
        self.devices.close()
        self.rest.close()
        self.gateway.stop()
        for proc in reversed(self.procs):
            proc.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, relay_binary: Path) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    system = make_system(tmp, relay_binary, ingest={"registry_poll_s": 2.0})
    system.env["SPEEDDATA_TOKEN"] = TOKEN
    procs: list[Proc] = []
    try:
        for service in ("bus", "registry", "ingest", "pivot"):
            procs.append(system.start("-m", f"services.{service}"))
        running = Live(system, procs)
    except BaseException:
        for proc in reversed(procs):
            proc.stop()
        raise
    yield running
    running.close()


# ---------------------------------------------------------------- what the pages show


def chart_points(page: Page) -> dict[str, int]:
    """Rows held by each chart of the page, by its title (the dashboard's: the channel) or else
    its signals (``a.x,a.y``)."""
    return page.evaluate(
        "() => Object.fromEntries([...SpeedData.charts].map("
        "(c) => [c.options.title || c.options.signals.join(','), c.points()]))"
    )


def chart_state(page: Page, key: str) -> str | None:
    return page.evaluate(
        "(key) => { const c = [...SpeedData.charts].find("
        "(c) => (c.options.title || c.options.signals.join(',')) === key);"
        " return c ? c.host.dataset.state : null; }",
        key,
    )


def growing(page: Page, key: str, beyond: int = 0) -> int:
    """Waits until the chart ``key`` holds more than ``beyond`` rows; its count then."""
    seen: dict[str, int] = {}

    def grew() -> bool:
        seen.update(chart_points(page))
        return seen.get(key, 0) > beyond

    wait_until(grew, timeout=WAIT_MS / 1000, interval=0.2, what=f"chart {key} beyond {beyond}")
    return seen[key]


def draws_live(page: Page, key: str) -> None:
    """The chart ``key`` has rows, gets more, and says it is live (no signal stale)."""
    first = growing(page, key)
    growing(page, key, first)
    wait_until(lambda: chart_state(page, key) == "live", timeout=WAIT_MS / 1000, interval=0.2,
               what=f"chart {key} live")  # fmt: skip


def changing_text(page: Page, selector: str) -> None:
    """The element's text shows a value and then another."""
    first = page.locator(selector).first
    expect(first).not_to_have_text("–")
    before = first.text_content()
    expect(first).not_to_have_text(before or "")


# ---------------------------------------------------------------- tests


def test_live_frames_carry_their_subscription_id(live):
    """What the pages rely on (proto/WS.md): with several subscriptions on one connection (a
    page's charts and its values), each live frame carries the id of its subscription."""
    from websockets.sync.client import connect  # the gateway's dependency

    with connect(f"ws://{live.gateway.ready['http']}/ws", open_timeout=10) as ws:
        for sub, width in ((1, 800), (2, 0)):
            ws.send(json.dumps({"type": "subscribe", "id": sub, "signals": ["example.counter"],
                                "window": 5, "width": width}))  # fmt: skip
        seen: set[tuple[int, int]] = set()  # (kind, id)
        deadline = time.monotonic() + WAIT_MS / 1000
        while {(1, 1), (1, 2)} - seen and time.monotonic() < deadline:
            message = ws.recv(timeout=WAIT_MS / 1000)
            if isinstance(message, bytes):
                seen.add((message[4], int.from_bytes(message[8:12], "little")))
        assert {(1, 1), (1, 2)} <= seen, f"live frames (kind 1) by subscription id: {seen}"


def test_dashboard_draws_every_numeric_signal_live(browser, live):
    page, problems = open_page(browser, live.url + "/")
    expect(page.locator("#connection")).to_have_text("live")
    for name in ("example", "temperature"):
        expect(page.locator(f'#channels tr[data-channel="{name}"]')).to_contain_text("active")
        draws_live(page, name)
    series = page.evaluate(
        "() => Object.fromEntries([...SpeedData.charts].map("
        "(c) => [c.options.title, c.series.map((s) => s.key)]))"
    )
    # every numeric signal but the time field (the x axis); a string is a value, not a chart
    numeric = ("counter", "sine_wave", "ramp", "square_wave", "noise")
    assert series["example"] == [f"example.{s}" for s in numeric]
    # the latest values table: every signal, its units (else its doc), values that change
    row = page.locator('#values tr[data-key="example.sine_wave"]')
    expect(row.locator("td").nth(3)).to_have_text("Sine, period 20 samples")
    changing_text(page, '#values [data-value="example.counter"]')
    changing_text(page, '#values [data-value="temperature.temperature_c"]')
    expect(page.locator('#values [data-value="example.message"]')).not_to_have_text("–")
    rate = page.locator('#channels tr[data-channel="example"] td').nth(2)
    expect(rate).to_contain_text("/s")
    shot(page, "dashboard")
    assert problems == []


def test_dashboard_charts_picked_signals_and_exports_the_view(browser, live):
    page, problems = open_page(browser, live.url + "/")
    for key in ("example.sine_wave", "example.ramp"):
        page.locator(f'#values tr[data-key="{key}"] input[type=checkbox]').check()
    expect(page.locator("#charts .sd-chart")).to_have_count(1)
    draws_live(page, "example")
    assert page.evaluate("[...SpeedData.charts][0].series.map((s) => s.key).join()") == (
        "example.ramp,example.sine_wave"
    )
    expect(page.locator("#chart-mode")).to_contain_text("picked")
    # export this view: the pivot's CSV of the charted signals over the visible range
    page.select_option("#export-format", "csv")
    pivot = page.locator("body").get_attribute("data-pivot")
    assert pivot == live.pivot
    with page.expect_download() as event:
        page.locator("#export").click()
    download = event.value
    parts = urlsplit(download.url)
    assert f"{parts.scheme}://{parts.netloc}" == pivot and parts.path == "/api/v1/pivot/export"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["channels"] == "example"
    assert query["signals"] == "example.ramp,example.sine_wave"
    assert query["format"] == "csv" and query["time"] == "device"
    start, end = (time_s(query[k]) for k in ("start", "end"))
    assert 29 <= end - start <= 31  # the 30 s window in view
    assert abs(end - time.time()) < 10  # of now: the devices' clock is this machine's
    assert download.failure() is None
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(download.path().read_text().splitlines()))
    assert rows and {"ramp", "sine_wave"} <= set(rows[0])
    assert "noise" not in rows[0]  # only the charted signals
    # back to every signal
    page.locator("#clear-picks").click()
    expect(page.locator("#charts .sd-chart")).to_have_count(2)
    shot(page, "dashboard-picked")
    assert problems == []


def time_s(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_theme_follows_the_system_live(browser, live):
    page, problems = open_page(browser, live.url + "/")
    host = page.locator("#charts .sd-chart").first
    expect(host).to_have_attribute("data-theme", "light")
    background = "(el) => getComputedStyle(el).backgroundColor"
    assert host.evaluate(background) == "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="dark")  # the system switches: the page follows at once
    expect(host).to_have_attribute("data-theme", "dark")
    assert host.evaluate(background) == "rgb(0, 0, 0)"
    draws_live(page, "example")
    shot(page, "dashboard-dark")
    page.get_by_role("button", name="Switch to the light theme").click()  # the visitor's choice
    expect(host).to_have_attribute("data-theme", "light")
    assert problems == []


def test_example_page_draws_live_with_the_original_attributes(browser, live):
    page, problems = open_page(browser, live.url + "/pages/example")
    for key in ("example.sine_wave,example.ramp", "example.square_wave,example.noise"):
        draws_live(page, key)
    draws_live(page, "temperature.temperature_c")
    changing_text(page, '[data-value="example.counter"]')
    changing_text(page, '[data-value="example.sine_wave"]')
    expect(page.locator('[data-value="example.message"]')).not_to_have_text("–")
    charts = page.locator(".sd-chart")
    expect(charts).to_have_count(3)
    # data-theme: auto follows the system (light here), dark and light are fixed
    expect(charts.nth(0)).to_have_attribute("data-theme", "light")
    expect(charts.nth(1)).to_have_attribute("data-theme", "dark")
    expect(charts.nth(2)).to_have_attribute("data-theme", "light")
    details = page.evaluate(
        "() => [...SpeedData.charts].map((c) => ({window: c.options.window,"
        " height: c.options.height, y: [c.uplot.scales.y.min, c.uplot.scales.y.max],"
        " colors: c.colors()}))"
    )
    first, second, third = details
    assert first["window"] == 30 and first["height"] == 300
    assert first["colors"] == ["#0000ff", "#ff0000"]  # the light palette: blue, red
    assert second["window"] == 60 and second["height"] == 200
    assert second["y"] == [-1.2, 1.2]  # data-ymin/data-ymax
    assert second["colors"] == ["#FF0000", "#00FF00"]  # data-colors
    assert third["window"] == 30 and third["height"] == 300  # the defaults
    page.emulate_media(color_scheme="dark")
    expect(charts.nth(0)).to_have_attribute("data-theme", "dark")
    expect(charts.nth(2)).to_have_attribute("data-theme", "light")
    shot(page, "example-page")
    assert problems == []


def test_registration_page_shows_each_channels_latest_values(browser, live):
    page, problems = open_page(browser, live.registry + "/")
    cell = page.locator('#channels tr[data-channel="example"] td.latest')
    expect(cell.locator(".sd-item")).to_have_count(7)  # every field of example.avsc
    changing_text(page, '#channels tr[data-channel="example"] [data-key="example.counter"] .sd-v')
    changing_text(
        page, '#channels tr[data-channel="temperature"] [data-key="temperature.pressure_pa"] .sd-v'
    )
    shot(page, "registry-page")
    assert problems == []


def test_pages_survive_a_gateway_restart(browser, live):
    tolerate = (WS_REFUSED,)
    dashboard, problems = open_page(browser, live.url + "/", tolerate=tolerate)
    example, more = open_page(browser, live.url + "/pages/example", tolerate=tolerate)
    registry, yet_more = open_page(browser, live.registry + "/", tolerate=tolerate)
    draws_live(dashboard, "example")
    draws_live(example, "example.sine_wave,example.ramp")
    counter = '#channels tr[data-channel="example"] [data-key="example.counter"] .sd-v'
    changing_text(registry, counter)

    charts = "#charts .sd-chart"
    dashboard.evaluate(f"document.querySelectorAll('{charts}').forEach((c) => c.dataset.mark = 1)")

    def offline() -> None:
        expect(dashboard.locator("#connection")).to_contain_text("unreachable")
        expect(example.locator(".sd-chart").first).to_have_attribute("data-state", "offline")
        shot(example, "example-page-gateway-down")

    live.restart_gateway(down_s=1.0, while_down=offline)
    expect(dashboard.locator("#connection")).to_have_text("live", timeout=30_000)
    for page, key in ((dashboard, "example"), (example, "example.sine_wave,example.ramp")):
        draws_live(page, key)
    changing_text(example, '[data-value="example.counter"]')
    changing_text(registry, counter)
    # the same charts, kept through the restart (not rebuilt empty)
    expect(dashboard.locator(f"{charts}[data-mark]")).to_have_count(2)
    shot(dashboard, "dashboard-after-restart")
    assert problems + more + yet_more == []


def test_a_channel_registered_while_open_shows(browser, live):
    dashboard, problems = open_page(browser, live.url + "/")
    registry, more = open_page(browser, live.registry + "/")
    expect(dashboard.locator("#charts .sd-chart")).to_have_count(2)
    [port] = free_channel_ports(1)
    answer = live.rest.post(
        "/channels",
        json={"name": "sensor", "port": port, "schema": "config/agents/temperature.avsc",
              "time_field": "time", "time_unit": "ns"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    live.devices.add("sensor", port, "temperature")
    expect(dashboard.locator('#channels tr[data-channel="sensor"]')).to_be_visible()
    expect(dashboard.locator("#charts .sd-chart")).to_have_count(3)
    draws_live(dashboard, "sensor")
    changing_text(dashboard, '#values [data-value="sensor.temperature_c"]')
    row = '#channels tr[data-channel="sensor"]'
    changing_text(registry, f'{row} [data-key="sensor.pressure_pa"] .sd-v')
    shot(dashboard, "dashboard-new-channel")
    # removed: its chart and rows go
    assert live.rest.delete("/channels/sensor").status_code == 200
    expect(dashboard.locator('#channels tr[data-channel="sensor"]')).to_have_count(0)
    expect(dashboard.locator("#charts .sd-chart")).to_have_count(2)
    assert problems + more == []


def test_dashboard_tags_the_range_in_view_and_lists_it_done(browser, live):
    """ "Tag this range": the visible range of the charted signals becomes a tag (through the
    gateway's /api/v1/tags, to the pivot), listed pending and then done with its records, its
    file a download link; the tag file holds the charted signals."""
    page, problems = open_page(browser, live.url + "/")
    page.locator('#values tr[data-key="example.sine_wave"] input[type=checkbox]').check()
    growing(page, "example", 20)  # charted: the view has a range
    page.locator("#tag-name").fill("Bad Name")
    page.locator("#tag").click()
    expect(page.locator("#tag-note")).to_contain_text("a tag name is")
    page.locator("#tag-name").fill("from-the-page")
    page.locator("#tag").click()
    expect(page.locator("#tag-note")).to_contain_text("tag from-the-page: pending")
    row = page.locator('#tags tr[data-tag="from-the-page"]')
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    link = row.locator("td").nth(6).locator("a")
    expect(link).to_have_text("from-the-page.h5")
    assert link.get_attribute("href") == f"{live.pivot}/api/v1/tags/from-the-page/download"
    tag = httpx.get(f"{live.pivot}/api/v1/tags/from-the-page", timeout=10).json()
    assert tag["channels"] == ["example"] and tag["signals"] == ["example.sine_wave"]
    assert tag["records"]["example"] > 0
    expect(row.locator("td").nth(4)).to_have_text(str(tag["records"]["example"]))
    s = read_hdf5(live.system.data_dir / "tags" / "from-the-page.h5")
    assert (
        "sine_wave" in s.channel["example"].signals and "noise" not in s.channel["example"].signals
    )
    page.locator("#tag-name").fill("from-the-page")
    page.locator("#tag").click()
    expect(page.locator("#tag-note")).to_contain_text(
        "not tagged: a tag named 'from-the-page' exists"
    )
    shot(page, "dashboard-tags")
    assert problems == []
