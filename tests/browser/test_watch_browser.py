"""``client.watch()`` in real JupyterLab and headless Chromium: the widget fills while a batch runs in the
next cell, its stop button ends it; one screenshot of it (build/browser/watch.png)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect

from gwsnb._cli.demo_report import sandbox_env
from gwsnb.sandbox import Faults, Sandbox

from .conftest import REPO, Lab, open_notebook, run_all_cells, start_lab, stop_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = REPO / "build" / "browser"
WAIT_MS = 30_000

CELLS = [
    "import os, gwsnb\n"
    "client = gwsnb.connect(os.environ['GWS_URL'], os.environ['GWS_USER'], timeout=10)\n"
    "watch = client.watch(rows=14)\nwatch",
    "handles = [int(h) for h in os.environ['WATCH_HANDLES'].split(',')]\n"
    "batch = client.get_chained_records(handles, campaign_name=os.environ['GWS_CAMPAIGN'],\n"
    "                                   application_id=int(os.environ['GWS_APPLICATION_ID']), progress=False)\n"
    "batch.summary()",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[Sandbox, str]]:
    password = secrets.token_urlsafe(12)
    # a server clock 90 s ahead: the delay column reads against the offset, not as -90 000 ms
    with Sandbox(chains=60, seed=19, password=password, faults=Faults(clock_offset_ms=90_000)) as sb:
        yield sb, password


@pytest.fixture(scope="module")
def lab(sandbox: tuple[Sandbox, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    sb, password = sandbox
    root = tmp_path_factory.mktemp("lab-root")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, root / "watch.ipynb")
    handles = ",".join(str(int(h)) for h in sb.calling_list["record_handle"][:40])
    env = {**sandbox_env(sb, password), "WATCH_HANDLES": handles}
    server = start_lab(root, env, tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        stop_lab(server)


def test_the_watch_in_jupyterlab(lab: Lab, sandbox: tuple[Sandbox, str], browser_page: Any) -> None:
    _, password = sandbox
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, "watch.ipynb")
        run_all_cells(page)
        view = page.locator("div.gwsnb-watch")
        view.wait_for(timeout=WAIT_MS)
        expect(view.locator("table.gwsnb-watch tbody tr")).to_have_count(14, timeout=WAIT_MS)
        expect(view).to_contain_text("ChainedRecordsDataEnd", timeout=WAIT_MS)
        expect(view).to_contain_text("ours gwsnb-", timeout=WAIT_MS)
        assert "watching" in view.inner_text()
        # the delay column: intervals for the user events, none negative under the server's 90 s skew (the
        # cells themselves: a referenceId such as gwsnb-9a7...-16 holds "-9" as well)
        table = view.locator("table.gwsnb-watch")
        column = [h.strip() for h in table.locator("thead th").all_inner_texts()].index("delay")
        delays = [row.locator("td").nth(column).inner_text().strip() for row in table.locator("tbody tr").all()]
        assert any(d.endswith(" ms") for d in delays), delays
        assert not any(d.startswith("-") or "–-" in d for d in delays), delays
        assert password not in page.content()
        output = page.locator(".jp-OutputArea-output", has=view)
        output.scroll_into_view_if_needed()
        output.screenshot(path=str(SHOTS / "watch.png"))
        page.locator("button.jupyter-button", has_text="stop watching").click()
        expect(view).to_contain_text("stopped", timeout=WAIT_MS)
        expect(page.locator("button.jupyter-button", has_text="stopped")).to_be_disabled(timeout=WAIT_MS)
    finally:
        page.screenshot(path=str(SHOTS / "watch-page.png"), full_page=True)
