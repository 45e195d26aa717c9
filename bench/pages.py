"""The strip-chart page's frame time (issue 10): headless Chromium (Debian's ``chromium``, driven
by Playwright as the tests drive it) shows one chart of ``stripchart.js`` (uPlot) with 100,000
points in view per signal — two signals of one channel at 1 kHz in a 100 s window, sent
unreduced (``width: 0``) — while new rows arrive every 16 ms, as live frames at 1 kHz do.

The page is served by the gateway's page routes (``services.stripchart.pages``) with a WebSocket
that only says hello: the rows are handed to the chart in the page, through the same calls the
WebSocket client makes for a binary frame (``Chart.subscribed``, ``Chart.frame`` with views on
int64/float64 columns), so what is timed is the page alone, not the gateway or the network.
Timed per animation frame: the charts' work in the ``requestAnimationFrame`` callback (the
script: trimming, ``setData``, ``setScale`` and uPlot's drawing on the canvas), and the
interval between frames (``requestAnimationFrame`` timestamps: the browser's own work, layout,
raster and compositing, included). Target: no frame over 16 ms.

``python -m bench.pages [--quick]`` prints the section; ``make bench`` puts it in
docs/benchmarks.md (``python -m bench --case pages``: only this)."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench import machine, tools
from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from services.stripchart import pages
from speeddata.config import load_settings

RATE_HZ = 1000
POINTS = 100_000
SIGNALS = 2
WARMUP_S = 3.0
TARGET_MS = 16.0
MISSED_MS = 25.0
"""An interval between animation frames longer than this missed a vsync (60 Hz: 16.7 ms)."""
SAVED = tools.BUILD / "pages.json"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<link rel="icon" href="data:,"><script src="/static/stripchart.js"></script></head>
<body style="margin:0"><div id="host" style="width:1200px"></div></body></html>"""

FEED = """async ({points, rate, signals}) => {
  const SD = window.SpeedData;
  await SD.needUplot();
  const names = Array.from({length: signals}, (_, i) => "s" + i);
  const chart = new SD.Chart(document.getElementById("host"),
    {signals: names.map((n) => "bench." + n), window: points / rate, width: 0, height: 400});
  const layout = {type: "subscribed", id: chart.sub.id, missing: [],
                  blocks: [{channel: "bench", clock: "device", signals: names}]};
  chart.sub.layout = layout;
  chart.subscribed(layout, chart.sub, true);
  const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1e3);
  const nowNs = () => BigInt(nowUs()) * 1000n;
  const step = BigInt(Math.round(1e9 / rate));
  let next = nowNs() - BigInt(points) * step;
  const send = (kind, upTo) => {
    const n = Number((upTo - next) / step);
    if (n <= 0) return;
    const t = new BigInt64Array(n);
    const values = names.map(() => new Float64Array(n));
    for (let i = 0; i < n; i++) {
      t[i] = next + BigInt(i) * step;
      const x = Number(t[i] / 1000000n) / 1000;
      values.forEach((v, s) => {
        v[i] = Math.sin((2 * Math.PI * x * (s + 1)) / 7) + 0.1 * Math.random();
      });
    }
    next += BigInt(n) * step;
    chart.frame({kind, flags: kind === 2 ? 1 : 0, id: chart.sub.id,
                 blocks: [{index: 0, n, t, values, last: null, reduced: false}]}, chart.sub);
  };
  send(2, nowNs());
  window.benchFeed = setInterval(() => send(1, nowNs()), 16);
  window.benchChart = chart;
}"""


async def _hello(ws: WebSocket) -> None:
    """A WebSocket that says hello (proto/WS.md) and reads until the page goes."""
    await ws.accept()
    await ws.send_text(json.dumps({"type": "hello", "version": 1, "max_fps": 60}))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass


async def _page(_request: Any) -> HTMLResponse:
    return HTMLResponse(PAGE)


@contextmanager
def _server() -> Iterator[str]:
    """The page routes and a hello-only /ws on a free loopback port, in a thread."""
    settings = load_settings()
    routes = [WebSocketRoute("/ws", _hello), Route("/bench", _page), *pages.routes(settings)]
    app = Starlette(routes=routes)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def measure(quick: bool = False) -> dict[str, Any]:
    """One run of ``seconds`` (quick: 3 s, else 10 s) after a warm-up; saved to SAVED."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise tools.BenchError("Debian chromium is not installed (make deps installs it)")
    if not pages.UPLOT_DIR.is_dir():
        raise tools.BenchError("node_modules/uplot is missing: run `make deps`")
    seconds = 3.0 if quick else 10.0
    before = machine.load_average()
    with _server() as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/bench")
            page.evaluate(FEED, {"points": POINTS, "rate": RATE_HZ, "signals": SIGNALS})
            page.wait_for_timeout(WARMUP_S * 1000)
            page.evaluate("SpeedData.frameStats.work.length = 0")
            page.evaluate("SpeedData.frameStats.intervals.length = 0")
            page.wait_for_timeout(seconds * 1000)
            stats = page.evaluate(
                "() => ({work: SpeedData.frameStats.work.slice(),"
                " intervals: SpeedData.frameStats.intervals.slice(), points: benchChart.points(),"
                " plotted: benchChart.uplot.data[0].length, version: navigator.userAgent})"
            )
        finally:
            browser.close()
    result = _summary(stats, seconds, f"{before} before, {machine.load_average()} after")
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(result, indent=1))
    return result


def _summary(stats: dict[str, Any], seconds: float, load: str) -> dict[str, Any]:
    def summarize(values: list[float]) -> dict[str, float]:
        s = sorted(values)
        at = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
        over, missed = sum(v > TARGET_MS for v in s), sum(v > MISSED_MS for v in s)
        return {"n": len(s), "p50": at(0.5), "p99": at(0.99), "max": s[-1],
                "over": over, "missed": missed}  # fmt: skip

    browser = stats["version"].split("Chrome/")[-1].split(" ")[0]
    return {
        "seconds": seconds,
        "points": stats["points"],
        "plotted": stats["plotted"],
        "signals": SIGNALS,
        "browser": f"Chromium {browser} headless, --disable-gpu",
        "load": load,
        "work": summarize(stats["work"]),
        "intervals": summarize(stats["intervals"]),
    }


def load() -> dict[str, Any] | None:
    """The last measurement (for `python -m bench --render`), None when there is none."""
    return json.loads(SAVED.read_text()) if SAVED.exists() else None


def targets(result: dict[str, Any] | None) -> list[str]:
    """The Targets table's row: the charts' work per frame under 16 ms, every frame."""
    if not result:
        return []
    w = result["work"]
    i = result["intervals"]
    verdict = "pass" if w["max"] <= TARGET_MS else "**FAIL**"
    return [
        f"| stripchart page: no frame over {TARGET_MS:g} ms, {result['points']:,} points in view"
        f" | chart work per drawn frame max {w['max']:.1f} ms ({w['over']} of {w['n']} over;"
        f" p99 {w['p99']:.1f}, p50 {w['p50']:.1f}); {i['missed']} of {i['n']} frame intervals"
        f" over {MISSED_MS:g} ms (load average {result['load']}) | {verdict} |"
    ]


def render(result: dict[str, Any] | None) -> str:
    """The docs/benchmarks.md section ("" when not measured)."""
    if not result:
        return ""
    w, i = result["work"], result["intervals"]
    rows = [
        f"| charts' work in the callback, frames that drew | {w['n']} | {w['p50']:.1f} ms |"
        f" {w['p99']:.1f} ms | {w['max']:.1f} ms | {w['over']} over {TARGET_MS:g} ms |",
        f"| interval between animation frames | {i['n']} | {i['p50']:.1f} ms | {i['p99']:.1f} ms |"
        f" {i['max']:.1f} ms | {i['missed']} over {MISSED_MS:g} ms (a missed vsync) |",
    ]
    text = (
        f"One strip chart (`stripchart.js`, uPlot) in {result['browser']}, 1200 px wide:"
        f" {result['signals']} signals of one channel at {RATE_HZ} Hz in a {POINTS // RATE_HZ} s"
        f" window, unreduced: {result['points']:,} rows in view ({result['plotted']:,} handed to"
        " uPlot per series), new rows every 16 ms, handed to the chart as the WebSocket client"
        f" hands a binary frame (`bench/pages.py`); {WARMUP_S:g} s of warm-up, then"
        f" {result['seconds']:g} s timed. 'work': the script's time in the"
        " `requestAnimationFrame` callback (trim, `setData`, `setScale`, uPlot drawing the"
        " canvas); 'interval': between `requestAnimationFrame` timestamps (the browser's"
        " layout, raster and compositing included). A chart draws when its view moved by half a"
        " pixel (here every ~45 ms of data time), ~2 rows a pixel column (min/max per column,"
        f" kept incrementally) however many are in view. Load average {result['load']}."
    )
    head = ["| per frame | frames | p50 | p99 | max | late |", "|---|---|---|---|---|---|"]
    return "\n".join(["", "## Stripchart page", "", text, "", *head, *rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 s timed instead of 10 s")
    args = p.parse_args(argv)
    try:
        result = measure(args.quick)
    except (tools.BenchError, OSError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(render(result))
    print("\n".join(["| target | measured | result |", "| --- | --- | --- |", *targets(result)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
