"""What the browser tests share: which Chromium, its flags, the skip marks, quiet JupyterLab settings.

Used by tests/test_browser.py (chapter 01 in a local JupyterLab) and tests/test_exchange.py
(the Assignments tab and the formgrader through a real JupyterHub). Both drive Debian's
`chromium` (or $CHROMIUM) through Playwright for Python; Playwright's own browser download
(`playwright install`) is not used, so that nothing is fetched at test time.
"""
import json
import os
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    expect = sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"   # screenshots, git-ignored
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's services,
# and on a closed network (CI) those connections are refused and slow everything down.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]

needs_browser = [
    pytest.mark.skipif(sync_playwright is None,
                       reason="Playwright for Python is not installed (pip install playwright, or "
                              "the project's `test` extra)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set "
                              "CHROMIUM=/path/to/chromium)"),
]


def quiet_settings(folder):
    """JupyterLab user settings, written under `folder` (a user_settings_dir), for a predictable
    page: every cell in the DOM (no virtual scrolling, so any cell can be found), and no news or
    update checks (no internet, no pop-up over the page)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def with_browser(test):
    """`needs_browser` for one test, in a module whose other tests need no browser."""
    for mark in needs_browser:
        test = mark(test)
    return test
