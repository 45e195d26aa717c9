"""Debian's Chromium (``/usr/bin/chromium``, installed by ``make deps``) as the browser tests and
benchmarks drive it with Playwright: headless, in a fresh profile, dialling nothing outside this
machine. Never ``playwright install``, which would download a browser build of its own."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
