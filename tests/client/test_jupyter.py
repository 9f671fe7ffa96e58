"""The blocking API in a real Jupyter kernel (nbclient + ipykernel), whose own event loop is running."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gwsnb.sandbox import Sandbox

pytestmark = pytest.mark.slow


def _kernelspec(tmp_path: Path) -> Path:
    """A kernelspec named gwsnb-test running this interpreter (the project's .venv python)."""
    kernels = tmp_path / "jupyter" / "kernels" / "gwsnb-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gwsnb test", "language": "python"}))
    return tmp_path / "jupyter"


@pytest.mark.parametrize("nest", [False, True], ids=["plain", "nest_asyncio"])
def test_blocking_call_in_a_running_kernel(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           nest: bool) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path)))
    monkeypatch.setenv("GWS_PASSWORD", sandbox.password)
    handle = sandbox.record_handles[0]
    expected = len(sandbox.calling_list.loc[
        sandbox.calling_list["chain_id"] == sandbox.calling_list.loc[
            sandbox.calling_list["record_handle"] == handle, "chain_id"].iloc[0]])
    cells = []
    if nest:
        cells.append(nbformat.v4.new_code_cell("import nest_asyncio\nnest_asyncio.apply()"))
    cells += [
        nbformat.v4.new_code_cell(
            "import asyncio, gwsnb\n"
            "assert asyncio.get_event_loop().is_running()  # the kernel's loop runs this cell\n"
            f"client = gwsnb.connect({sandbox.url!r}, {sandbox.username!r})"),
        nbformat.v4.new_code_cell(
            f"result = client.get_chained_record({handle}, campaign_name={sandbox.campaign_name!r}, "
            f"application_id={sandbox.application_id})\n"
            "print(len(result.records), result.complete)"),
        nbformat.v4.new_code_cell(
            f"result2 = await client.get_chained_record_async({handle}, campaign_name={sandbox.campaign_name!r}, "
            f"application_id={sandbox.application_id})\n"
            "print(len(result2.records))\nclient.close()"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, kernel_name="gwsnb-test", timeout=60, allow_errors=False).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    text = "".join(o["text"] for o in outputs)
    assert text.split() == [str(expected), "True", str(expected)]


def test_async_lifecycle_in_a_running_kernel(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """connect_async, aclose and async with in a kernel's cells; close() there returns without blocking the
    kernel's loop, and aclose() then waits for the end."""
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path)))
    monkeypatch.setenv("GWS_PASSWORD", sandbox.password)
    handle = sandbox.record_handles[0]
    call = (f"get_chained_record_async({handle}, campaign_name={sandbox.campaign_name!r}, "
            f"application_id={sandbox.application_id})")
    cells = [
        "import asyncio, gwsnb\n"
        f"client = await gwsnb.connect_async({sandbox.url!r}, {sandbox.username!r})\n"
        "print(asyncio.get_running_loop().is_running())",
        f"result = await client.{call}\nprint(len(result.records))",
        "await client.aclose()\nprint(client.closed, client._loop.running)",
        f"async with await gwsnb.connect_async({sandbox.url!r}, {sandbox.username!r}) as c2:\n"
        f"    r2 = await c2.{call}\n"
        "print(len(r2.records), c2.closed)",
        f"c3 = gwsnb.connect({sandbox.url!r}, {sandbox.username!r})\nc3.close()\nprint(c3.closed)",
        "await c3.aclose()\nprint(c3._loop.running)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="gwsnb-test", timeout=60, allow_errors=False).execute()
    text = "".join(o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    expected = sandbox.calling_list.loc[sandbox.calling_list["record_handle"] == handle, "chain_id"].iloc[0]
    n = int((sandbox.calling_list["chain_id"] == expected).sum())
    assert text.split() == ["True", str(n), "True", "False", str(n), "True", "True", "False"]
