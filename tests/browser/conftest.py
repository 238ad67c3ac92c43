"""Browser tests: a real worker on the real broker, pages opened in headless Chromium.

Chromium comes from Debian (``scripts/browser.sh install``), driven by Playwright for Python
with ``executable_path``: Playwright's own browser download is never used. A missing browser
or driver fails the test with the command to run; it is never skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ..integration.conftest import created_topics, topics, workers
from ..integration.harness import REPO

# the integration tests' fixtures: a unique topic set, and workers killed at the end
__all__ = ["created_topics", "topics", "workers"]

CHROMIUM = os.environ.get("ENGAGEMENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "artifacts"


def require_browser() -> None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        pytest.fail(
            f"Chromium not found at {CHROMIUM}"
            + (f" (there is one at {found}: set ENGAGEMENT_CHROMIUM)" if found else "")
            + ": run `scripts/browser.sh install`",
            pytrace=False,
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "Playwright for Python is missing: run `make install` (dev dependency) or "
            "`scripts/browser.sh install`",
            pytrace=False,
        )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
