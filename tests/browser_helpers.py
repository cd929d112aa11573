"""Debian's Chromium through Playwright, for the browser tests (a helper module).

Nothing is downloaded (never ``playwright install``): the tests skip, with
the command that installs what is missing, where Chromium or Playwright's
Python package is absent.
"""

import contextlib
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

SKIP_WITHOUT_BROWSER = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Chromium is not installed: sudo apt-get install chromium"),
    pytest.mark.skipif(sync_playwright is None,
                       reason="Playwright's Python package is missing: pip install playwright"),
]


@contextlib.contextmanager
def chromium():
    """A headless Chromium, closed at the end."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
