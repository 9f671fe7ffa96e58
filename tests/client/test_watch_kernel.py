"""``client.watch()`` in a real Jupyter kernel (nbclient + ipykernel): its widget is redrawn from the client's
loop thread while a batch runs in a later cell of the same kernel, and the rows it shows are that batch's."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gwsnb.sandbox import Sandbox

from .test_jupyter import _kernelspec

pytestmark = pytest.mark.slow

WATCH_CELL = """\
import gwsnb, time
client = gwsnb.connect({url!r}, {user!r}, timeout=10)
watch = client.watch(rows=8, interval=0.1)
watch"""

BATCH_CELL = """\
started = time.time()
batch = client.get_chained_records({handles!r}, campaign_name={campaign!r}, application_id={app},
                                   progress=False, every_handle=True)  # each handle's own call: a longer batch
ended = time.time()
time.sleep(0.5)  # one more redraw after the last message
during = [(at, count, shown) for at, count, shown in watch.render_log if started <= at <= ended + 0.3]
frame = watch.frame()
print(json.dumps({{
    "batch_seconds": ended - started,
    "renders_during_batch": len(during),
    "counts_during_batch": sorted({{count for _, count, _ in during}}),
    "ours": sorted(set(frame.loc[frame["reference"] == "ours", "reference_id"])),
    "batch": sorted(r.reference_id for r in batch.results),
    "last_reference": batch.results[-1].reference_id,
    "widget_model": watch._html.model_id,
}}))"""


def test_the_watch_updates_in_a_kernel_while_a_batch_runs(sandbox: Sandbox, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path)))
    monkeypatch.setenv("GWS_PASSWORD", sandbox.password)
    handles = [int(h) for h in sandbox.calling_list["record_handle"]][:200]
    # The redraws are at most one per `interval` (0.1 s) while messages arrive, so the batch must last
    # several intervals: unhindered, 200 calls take about 0.1 s at the ~1,800 calls/s of a quiet machine
    # (the bulk benchmark's rate), and the test saw a single redraw now and then. 20 ms before each
    # notification makes a call of one record 80 ms at least: the batch (12.5 rounds of 16 calls) lasts
    # a second or more at any machine speed.
    sandbox.faults.latency_ms = 20
    cells = [
        nbformat.v4.new_code_cell("import json"),
        nbformat.v4.new_code_cell(WATCH_CELL.format(url=sandbox.url, user=sandbox.username)),
        nbformat.v4.new_code_cell(BATCH_CELL.format(handles=handles, campaign=sandbox.campaign_name,
                                                    app=sandbox.application_id)),
        nbformat.v4.new_code_cell("watch.stop()\nclient.close()\nprint(watch.stopped)"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, kernel_name="gwsnb-test", timeout=120, allow_errors=False).execute()
    # the watch cell displayed the widget (a VBox holding the HTML and the stop button)
    shown = nb.cells[1].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in shown
    report = json.loads(next(o["text"] for o in nb.cells[2].outputs if o.get("output_type") == "stream"))
    # redrawn while the batch ran, from the loop thread, with more and more messages
    assert report["batch_seconds"] >= 0.5, report
    assert report["renders_during_batch"] >= 2 and len(report["counts_during_batch"]) >= 2, report
    assert report["ours"] == report["batch"]
    # the widget state the kernel sent to the front end holds the last redraw: the batch's last call
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    html = state[report["widget_model"]]["state"]["value"]
    assert "CometD watch" in html and "gwsnb-watch" in html
    assert "ours" in html and "ChainedRecordsDataEnd" in html
    assert nb.cells[3].outputs[0]["text"].strip() == "True"
