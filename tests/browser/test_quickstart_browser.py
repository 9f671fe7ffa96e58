"""01-quickstart in real JupyterLab and headless Chromium: run all cells, fill the form, click, read the table."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from gwsnb._cli.demo_report import notebooks_dir, sandbox_env
from gwsnb.sandbox import Sandbox

from .conftest import REPO, Lab, open_notebook, run_all_cells, start_lab, stop_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = REPO / "build" / "browser"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[Sandbox, str]]:
    password = secrets.token_urlsafe(12)
    with Sandbox(chains=200, seed=7, password=password) as sb:
        yield sb, password


@pytest.fixture(scope="module")
def lab(sandbox: tuple[Sandbox, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    sb, password = sandbox
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copy(notebooks_dir() / "01-quickstart.ipynb", root)
    server = start_lab(root, sandbox_env(sb, password), tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        stop_lab(server)


def fresh_chain(sb: Sandbox) -> tuple[int, list[str]]:
    """A handle of a chain of >= 3 records that the notebook itself did not fetch, and the chain's phones."""
    frame = sb.calling_list
    used = set(frame.loc[frame["record_handle"].isin(sb.record_handles), "chain_id"])
    sizes = frame.groupby("chain_id").size()
    chain_id = next(c for c in sizes.index if sizes[c] >= 3 and c not in used)
    chain = frame[frame["chain_id"] == chain_id].sort_values("chain_n")
    return int(chain["record_handle"].iloc[-1]), chain["contact_info"].astype(str).tolist()


ERRORS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(c => c.model.type === 'code')
  .flatMap(c => c.model.toJSON().outputs || [])
  .filter(o => o.output_type === 'error')
  .map(o => o.ename + ': ' + o.evalue)"""


def test_form_in_jupyterlab_shows_the_chain(lab: Lab, sandbox: tuple[Sandbox, str], browser_page: Any) -> None:
    sb, password = sandbox
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, "01-quickstart.ipynb")
        run_all_cells(page)
        assert page.evaluate(ERRORS_JS) == []
        form = page.locator(".gwsnb-form")
        form.wait_for(timeout=WAIT_MS)

        handle, phones = fresh_chain(sb)
        table = form.locator(".gwsnb-records-table")
        for phone in phones:  # not there before the click: the notebook fetched other chains
            assert phone not in table.inner_text()
        handles_input = form.locator(".gwsnb-handles input")
        check = form.locator(".gwsnb-handles-check")
        handles_input.fill("7, x9")  # checked as you type, by the kernel's parse_handles
        expect(check).to_contain_text("record_handles", timeout=WAIT_MS)
        expect(check).to_contain_text("x9", timeout=WAIT_MS)
        handles_input.fill(str(handle))
        handles_input.press("Tab")
        expect(check).to_have_text("1 handle", timeout=WAIT_MS)
        form.locator("button.gwsnb-run-button").click()
        page.wait_for_function(
            """([phones]) => {
              const t = document.querySelector('.gwsnb-form .gwsnb-records-table');
              return !!t && phones.every(p => t.innerText.includes(p));
            }""",
            arg=[phones],
            timeout=WAIT_MS,
        )
        rows = table.locator("table.gwsnb-records tbody tr")
        assert rows.count() == len(phones)
        expect(form.locator(".gwsnb-status")).to_contain_text("Done: ", timeout=WAIT_MS)
        expect(form.locator("button.gwsnb-run-button")).to_be_enabled(timeout=WAIT_MS)
        assert password not in page.content()
        form.scroll_into_view_if_needed()
        form.screenshot(path=str(SHOTS / "01-quickstart-form.png"))
    finally:
        page.screenshot(path=str(SHOTS / "01-quickstart-page.png"), full_page=True)
