"""Headless Chromium (Debian's `chromium`) driven by Playwright's Python package.

`.ci/run` installs both. Without them the browser tests FAIL in CI (CI=true) and are skipped, with the
reason, elsewhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SEVIS_MOCK_CHROMIUM", "/usr/bin/chromium"))


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests need {reason}")


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright's Python package (pip install -e '.[test]')")
    executable = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or CHROMIUM)
    if not executable.exists():
        _unavailable(f"Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A fresh browser profile (no cookies) that accepts the mock's development certificate."""
    contexts = []

    def new_page():
        context = chromium.new_context(ignore_https_errors=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()
