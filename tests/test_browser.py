"""Chapter 01 in JupyterLab, in a real (headless) Chromium: what a learner actually sees.

Why this exists: tests/test_notebooks.py proves the notebooks' code runs in a kernel, but not
that JupyterLab shows the results. Three things only a browser can confirm:

* matplotlib figures render inline (an <img> in an output area, not "<Figure size ...>");
* ipywidgets controls render: that needs the widget manager labextension of JupyterLab to
  match the kernel's ipywidgets (a mismatch shows "Error displaying widget" or the text
  "IntSlider(...)" instead of a slider);
* the report of `check(...)` reaches the page ("✔ 01.to_vectors: all tests passed").

How: start `jupyter lab` from this environment on 127.0.0.1 (a free port, a random token, a
temporary root_dir, settings and workspace), open the notebook, Run > Run All Cells, wait for
every code cell to finish, then look at the page. It runs the *solution* notebook, copied into
the temporary folder under the learner's name 01_mnist_as_numbers.ipynb: the course copy's
exercises are stubs that raise NotImplementedError, and Run All would stop at the first one.
Chapter 01 has no widget, so the copy gets one extra last cell that shows an IntSlider; the
notebooks in the repository are not touched. A screenshot is saved to $BROWSER_SCREENSHOT,
or tests/artifacts/jupyterlab.png (git-ignored), whether the test passes or fails.

Needs Playwright for Python (`pip install playwright`; it is in the `test` extra) and a
Chromium binary: Debian's `chromium` package at /usr/bin/chromium, or $CHROMIUM. Playwright's
own browser download (`playwright install`) is not used. Without either, the test is skipped.

JupyterLab 4 DOM this relies on (update here if a JupyterLab upgrade breaks the test):
  .jp-NotebookPanel .jp-Cell                      the notebook has rendered
  #jp-main-statusbar text "| Idle"                kernel started and idle (status bar item)
  li.lm-MenuBar-item "Run", then
  li.lm-Menu-item[data-command="runmenu:run-all"] Run > Run All Cells
  .jp-CodeCell .jp-InputPrompt "[n]:"             a code cell has finished ("[*]:" while queued)
  .jp-OutputArea-output img                       an inline image (matplotlib's PNG)
  .jp-OutputArea-output .jupyter-widgets.widget-slider   a rendered ipywidgets slider
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import (ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, ROOT, needs_browser, quiet_settings,
                           sync_playwright)

NOTEBOOK = "01_mnist_as_numbers.ipynb"
SCREENSHOT = Path(os.environ.get("BROWSER_SCREENSHOT", ARTIFACTS / "jupyterlab.png"))
WIDGET_CELL = 'import ipywidgets as widgets\nwidgets.IntSlider(description="digit", max=9)'
# Generous: the machines that run this have 2 shared cores. Milliseconds, as Playwright wants.
SERVER_START_S = 180
PAGE_LOAD_MS = 180_000
RUN_ALL_MS = 600_000

pytestmark = [pytest.mark.slow, *needs_browser]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_root(folder):
    """The solution notebook under the learner's file name, plus a widget cell at the end."""
    nb = json.loads((ROOT / "solutions" / NOTEBOOK).read_text())
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {},
                        "outputs": [], "source": WIDGET_CELL})
    folder.mkdir()
    (folder / NOTEBOOK).write_text(json.dumps(nb, indent=1))


@pytest.fixture
def jupyter_lab(tmp_path):
    """A running `jupyter lab` serving a temporary folder; yields (base URL, token).

    The server runs in its own process group and is always stopped afterwards, kernels
    included: SIGTERM (JupyterLab then shuts its kernels down), SIGKILL to the group if needed.
    """
    root, settings = tmp_path / "root", tmp_path / "settings"
    prepare_root(root)
    quiet_settings(settings)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, COURSE_FAST="1",
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"),    # ignore the developer's ~/.jupyter
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env.pop("MPLBACKEND", None)  # the kernel must choose the inline backend
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n"
                                f"{log.read_text()[-3000:]}")
                time.sleep(1)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(server.pid, signal.SIGKILL)  # a kernel left behind, or a server that hung
        except ProcessLookupError:
            pass
        server.wait()


def test_chapter_01_runs_and_renders_in_jupyterlab(jupyter_lab, tmp_path, notebook_times):
    """Run All in JupyterLab shows a figure, a widget and check()'s report, and no traceback."""
    base, token = jupyter_lab
    problems = []  # browser-side errors, reported if an assertion fails
    with sync_playwright() as pw:
        # A persistent context is how Playwright takes a user-data-dir: a fresh one per run.
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
            try:
                page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=PAGE_LOAD_MS)
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=PAGE_LOAD_MS)
                # Run All before the kernel is up could be lost: wait for "Python 3 (ipykernel) | Idle".
                page.wait_for_function(
                    "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
                    timeout=PAGE_LOAD_MS)

                page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
                page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
                started = time.monotonic()
                # Every code cell shows "[n]:" when it has run; "[*]:" while queued or running.
                page.wait_for_function(
                    """() => {
                        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                        return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
                    }""", timeout=RUN_ALL_MS)
                notebook_times.append((f"JupyterLab, Run All: {NOTEBOOK}", time.monotonic() - started,
                                       "all cells ran (browser)"))

                outputs = page.locator(".jp-OutputArea-output")
                slider = outputs.locator(".jupyter-widgets.widget-slider")
                slider.first.wait_for(timeout=60_000)   # the widget view renders after its comm opens
                slider.first.scroll_into_view_if_needed()
                page.wait_for_timeout(500)              # let the scrolled view paint for the screenshot
            finally:
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)

            context = f"\n(screenshot: {SCREENSHOT}; browser errors: {problems[-5:]})"
            tracebacks = outputs.filter(has_text="Traceback (most recent call last)")
            assert tracebacks.count() == 0, \
                f"a cell failed in JupyterLab:\n{tracebacks.first.inner_text()[:2000]}{context}"
            assert outputs.locator("img").count() >= 1, f"no inline matplotlib figure was rendered{context}"
            assert "digit" in slider.first.inner_text(), f"the IntSlider has lost its label{context}"
            report = outputs.filter(has_text="✔ 01.to_vectors: all tests passed")
            assert report.count() == 1, f"check(to_vectors)'s report is not on the page{context}"
        finally:
            browser.close()
