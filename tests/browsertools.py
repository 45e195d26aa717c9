"""Headless Chromium for the page tests (Debian's ``chromium`` driven by Playwright's sync API, see
:mod:`bench.chromium`): a fresh profile per context, and a tab that collects what went wrong on
the page (uncaught errors, console errors, failed loads). Fixtures (a plugin of conftest.py):
``playwright`` (per module; skips without chromium) and ``browser`` (a context per test, the
system's color scheme light)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from bench.chromium import CHROMIUM, CHROMIUM_ARGS

WAIT_MS = 15_000
WS_REFUSED = "WebSocket connection to"
"""How Chromium's console reports a WebSocket that could not connect (a gateway restarting)."""


def new_context(playwright: Playwright, profile: Path, **options: Any) -> BrowserContext:
    """Chromium with a fresh profile directory that dials nothing outside this machine."""
    options.setdefault("viewport", {"width": 1200, "height": 900})
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **options
    )
    context.set_default_timeout(WAIT_MS)
    return context


def open_page(
    browser: BrowserContext, url: str, *, api: str = "/api/v1/", tolerate: tuple[str, ...] = ()
) -> tuple[Page, list[str]]:
    """A tab at ``url``; the list collects the page's uncaught errors, console errors (but the
    ones starting with a string of ``tolerate``) and failed loads of anything but ``api`` (whose
    refusals the tests may provoke on purpose)."""
    page = browser.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        text = message.text
        if message.type == "error" and not text.startswith(("Failed to load resource", *tolerate)):
            problems.append(f"console: {text}")

    def response(answer: Response) -> None:
        if answer.status >= 400 and api not in answer.url:
            problems.append(f"{answer.status} {answer.url}")

    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("console", console)
    page.on("response", response)
    page.goto(url)
    return page, problems


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make deps installs it)")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    context = new_context(playwright, tmp_path / "profile", color_scheme="light")
    yield context
    context.close()
