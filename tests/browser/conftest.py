"""A real JupyterLab server and headless Debian Chromium driven by Python playwright.

Traps met here: root needs ``--allow-root``; Chromium needs the background-networking
flags on a closed network; the app is exposed as ``window.jupyterapp`` so cells are run through Lab's own
commands rather than by simulated typing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GWSNB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path


def start_lab(root: Path, env_extra: dict[str, str], home: Path) -> Lab:
    """Start ``jupyter lab`` on a free 127.0.0.1 port serving ``root``; returns once it answers."""
    port = _free_port()
    env = dict(os.environ)
    env.update(env_extra)
    # A fresh profile: no restored workspace, no user settings, no news toast state from elsewhere.
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("IPYTHONDIR", "ipython")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    log = home / "jupyter-lab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/api/status", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"jupyter lab did not answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return Lab(url=url, root=root, process=process, log=log)


def stop_lab(lab: Lab) -> None:
    lab.process.terminate()
    try:
        lab.process.wait(15)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(5)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make browser` installs Debian's chromium")
    return CHROMIUM


@pytest.fixture
def browser_page(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            with contextlib.suppress(Exception):
                browser.close()


KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && !w.sessionContext.isRestarting;
}"""


def open_notebook(page: Any, lab: Lab, name: str, timeout_ms: float = 60_000) -> None:
    """Open ``name`` in Lab and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{name}")
    page.wait_for_selector(".jp-Notebook", timeout=timeout_ms)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_ms)


def run_all_cells(page: Any, timeout_ms: float = 90_000) -> None:
    """Run every cell through Lab's own command and wait until no cell is pending ([*])."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
          const w = window.jupyterapp.shell.currentWidget;
          if (!w || !w.content) return false;
          const cells = w.content.widgets.filter(c => c.model.type === 'code');
          const busy = cells.some(c => c.promptNode && c.promptNode.textContent.includes('*'));
          const k = w.sessionContext.session && w.sessionContext.session.kernel;
          return !busy && !!k && k.status === 'idle';
        }""",
        timeout=timeout_ms,
        polling=250,
    )


def cell_errors(page: Any) -> list[str]:
    """Text of every error output in the open notebook."""
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.innerText)"
    )
