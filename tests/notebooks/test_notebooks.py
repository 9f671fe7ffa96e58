"""Each notebook executed top to bottom by nbclient against the sandbox.

01-quickstart is pointed at a sandbox of this test through its parameter cell (GWS_* environment
variables, the way a user points it at a real GWS) with a distinctive password that must appear in no
output; 02 and 03 start their own sandbox, which their fault-injection cells need; 04 (the record lifecycle) starts a
sandbox of its own small calling list, since its operations change the list; 05 (campaign progress) starts
its own sandbox, whose campaign it advances, on a 3,000-record list; 06 (a support case) makes the HTTP
capture of a session that went wrong against a sandbox of its own, reads it and redacts it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from gwsnb._cli.demo_report import execute_notebook
from gwsnb.sandbox import Sandbox

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SECRET = "nb-Secret-7f3a9c"
CELL_TIMEOUT_S = 90


def execute(name: str, env: dict[str, str]) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return execute_notebook(book, env=env, path=NOTEBOOKS, timeout=CELL_TIMEOUT_S)


def texts(book: nbformat.NotebookNode) -> str:
    """Every output of the notebook as one string (streams, reprs, HTML, widget state)."""
    parts = [json.dumps(cell.get("outputs", [])) for cell in book.cells]
    parts.append(json.dumps(book.metadata.get("widgets", {})))
    return "\n".join(parts)


def outputs_of(book: nbformat.NotebookNode, needle: str) -> list[dict[str, Any]]:
    """The outputs of the first code cell whose source contains ``needle``."""
    for cell in book.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return list(cell.outputs)
    raise AssertionError(f"no cell contains {needle!r}")


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=11, password=SECRET) as sb:
        yield sb


def test_committed_without_outputs_and_with_a_parameter_cell() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        first = book.cells[0]
        assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), path.name
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_the_kernel_is_this_interpreter() -> None:
    """nbclient's "python3" kernel runs on the Python of this test run (so a run on 3.10 executes the
    notebooks on 3.10), not on some other interpreter a kernelspec points at."""
    from jupyter_client.manager import KernelManager

    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


def test_quickstart_against_a_given_gws(own_sandbox: Sandbox) -> None:
    handle = own_sandbox.record_handles[1]
    book = execute("01-quickstart", {
        "GWS_URL": own_sandbox.url, "GWS_USER": own_sandbox.username, "GWS_PASSWORD": SECRET,
        "GWS_CAMPAIGN": own_sandbox.campaign_name, "GWS_APPLICATION_ID": str(own_sandbox.application_id),
        "GWS_RECORD_HANDLE": str(handle),
    })
    frame = own_sandbox.calling_list
    chain_id = frame.loc[frame["record_handle"] == handle, "chain_id"].iloc[0]
    phones = frame.loc[frame["chain_id"] == chain_id, "contact_info"].tolist()
    records_output = json.dumps(outputs_of(book, "records = result.records_frame()"))
    assert all(phone in records_output for phone in phones)
    # the notebook talked to this sandbox, not to one of its own
    assert own_sandbox.url in json.dumps(outputs_of(book, "client = gwsnb.connect"))
    scripted = json.dumps(outputs_of(book, "form.submit()"))
    assert "1 call(s), 0 error(s)" in scripted
    assert SECRET not in texts(book)


def test_quickstart_with_its_own_sandbox() -> None:
    book = execute("01-quickstart", {"GWS_URL": "", "GWS_RECORD_HANDLE": "0"})
    assert "3 call(s), 0 error(s)" in json.dumps(outputs_of(book, "form.submit()"))


#: the generated list notebook 02 analyses in the tests (100,000 records by default: too long for a test)
NB02_RECORDS = 3000


def test_campaign_analysis() -> None:
    book = execute("02-campaign-analysis", {"GWS_URL": "", "GWS_HANDLES": "", "GWSNB_LIST_RECORDS": str(NB02_RECORDS),
                                            "GWSNB_RUN_DIR": ""})
    listed = json.dumps(outputs_of(book, "first_of_chain = "))
    chains = int(listed.split(" records in ")[1].split(" chains")[0])
    summary = json.dumps(outputs_of(book, "run = client.get_chained_records"))
    assert f"{chains} handle(s), ok {chains}, failed 0" in summary
    assert "remaining 0" in summary  # the run's HTML summary
    read = json.dumps(outputs_of(book, "run = gwsnb.open_run(RUN_DIR)"))
    assert "failed handles: 0" in read
    pictures = sum("image/png" in out.get("data", {}) for cell in book.cells for out in cell.get("outputs", []))
    assert pictures >= 2  # plots.breakdown and plots.latency of the run
    assert "p99" in json.dumps(outputs_of(book, "percentiles = pd.DataFrame"))
    duck = json.dumps(outputs_of(book, "duckdb.sql("))
    assert "answered_pct" in duck and "p90_total_ms" in duck
    by_type = outputs_of(book, "by_type = records.groupby")[0]["data"]["text/plain"].splitlines()
    assert by_type[2].split()[0] == "General", by_type  # most records are ordinary: record_type 2 General


def test_debugging() -> None:
    book = execute("03-debugging", {"GWS_URL": "", "GWS_RECORD_HANDLE": "0"})
    # it starts with the doctor against a misconfigured sandbox and reads its verdict
    doctor = json.dumps(outputs_of(book, "diagnosis = gwsnb.diagnose(broken.url"))
    assert "cause='cometd_not_found'" in doctor and "gwsnb-diagnosis" in doctor  # the repr and the checklist
    verdict = plain(book, 'print(f"ok={diagnosis.ok}')
    assert "ok=False cause=cometd_not_found" in verdict and "/genesys/cometd" in verdict
    assert "No problem found." in plain(book, "cured = gwsnb.diagnose(")
    timeout = json.dumps(outputs_of(book, "drop_data_end_handles = {RECORD_HANDLE}"))
    assert "NotificationTimeout" in timeout and "complete=False" in timeout
    error = json.dumps(outputs_of(book, "error_handles = {RECORD_HANDLE}"))
    assert "errorCode=104" in error
    handshake = json.dumps(outputs_of(book, "expire_cometd_clients()"))
    assert "handshakes 1 -> 2" in handshake and "complete=True" in handshake


def plain(book: nbformat.NotebookNode, needle: str) -> str:
    """The printed text and the text/plain reprs of the cell whose source contains ``needle``.

    Stream outputs are joined as they are: the kernel sends what one ``print`` wrote in two stream messages
    when its flush timer fires between the writes (a loaded machine), and a separator there would split a line
    the notebook printed whole (docs/testing.md, clean-clone run 22)."""
    parts = []
    for out in outputs_of(book, needle):
        if out.get("output_type") == "stream":
            parts.append(str(out.get("text", "")))
        else:
            parts.append("\n" + str(out.get("data", {}).get("text/plain", "")) + "\n")
    return "".join(parts)


def test_record_lifecycle() -> None:
    book = execute("04-record-lifecycle", {"GWS_URL": ""})
    preview = plain(book, "preview = client.get_preview_record")
    assert preview.count("Ready → Retrieved") == 2  # chain 1: handles 1 and 2
    completed = plain(book, 'call_result="Busy", **kw)\nprint')
    assert "Retrieved → Updated" in completed and "Unknown Call Result → Busy" in completed
    assert "Retrieved → Chain Updated" in completed and "0 → 1" in completed
    rescheduled = plain(book, "client.reschedule_record(SECOND")
    assert "ScheduledRecordRescheduleAcknowledge" in rescheduled and "NaT → 20" in rescheduled
    assert rescheduled.count("Retrieved → Ready") == 3  # handle 3 and its two held members
    dnc = plain(book, "client.do_not_call(THIRD")
    assert dnc.count("→ Do Not Call") == 2 and "Retrieved → Chain Updated" in dnc
    added = plain(book, "added = client.add_record")
    assert "(new) +14155550199" in added and "new handle: 8" in added
    wire = plain(book, "writes = log[")
    assert "/gwsnb/sent" in wire and "DoNotCallAcknowledge" in wire and "AddRecord" in wire
    assert "WritesNotAllowedError - CompleteRecord" in plain(book, "allow_writes=False) as reader")


#: the generated list notebook 05 compares in the tests (100,000 records by default: about four minutes)
NB05_RECORDS = 3000


def test_campaign_progress() -> None:
    book = execute("05-campaign-progress", {"GWS_URL": "", "GWSNB_LIST_RECORDS": str(NB05_RECORDS)})
    morning = plain(book, "morning = client.get_chained_records")
    chains = int(plain(book, "chains to read").split(" chains to read")[0].split()[-1])
    assert f"{chains} handle(s), ok {chains}, failed 0" in morning and "list penetration" in morning
    day = plain(book, "day = sandbox.advance")
    dialled = int(day.split("dialled ")[1].split()[0])
    added = int(day.split("added ")[1].split()[0])
    assert dialled > 0 and added >= 1
    assert f"{chains + added} handle(s), ok {chains + added}, failed 0" in plain(book, "afternoon = client.get_")
    summary = outputs_of(book, "comparison = gwsnb.compare_runs")[0]["data"]["text/html"]
    assert "gwsnb-heatmap" in summary and "KPI deltas" in summary and f"{added} added" in summary
    assert "list penetration" in json.dumps(outputs_of(book, "progress = deltas.loc"))
    became = plain(book, "dialled = changes[")
    assert became.startswith(f"{dialled} records dialled") and "redial later" in became and "completed" in became
    assert "callbacks due in the next 6 hours" in plain(book, "callbacks = afternoon.sql")
    assert "became No Call" in plain(book, "no_call = changes[")
    # a campaign's day (issue 27): five snapshots read together, the KPIs over time, one customer's journey
    snapshots = plain(book, "DAY = f")
    lines = [line for line in snapshots.splitlines() if line.startswith("snapshot ")]  # not the progress bars
    assert [line.split(":")[0] for line in lines] == [f"snapshot {i}" for i in range(5)]
    assert all("failed 0" in line for line in lines)
    assert "5 run(s) of campaign &#x27;Campaign1&#x27;" in outputs_of(book, "history = gwsnb.open_history")[0]["data"][
        "text/html"]
    assert "list penetration" in json.dumps(outputs_of(book, "kpis = history.kpis()"))
    assert any("image/png" in out.get("data", {}) for out in outputs_of(book, "fig = history.plot()"))
    assert "(first seen)" in json.dumps(outputs_of(book, "changes = history.changes()"))


def test_support_case() -> None:
    book = execute("06-support-case", {"GWSNB_CAPTURE": ""})
    made = plain(book, "folder = Path(tempfile.mkdtemp(")
    assert "no ChainedRecordsDataEnd within 2.0 s" in made and "errorCode 101" in made
    shown = plain(book, "print(capture.text())")
    assert "calls: 5" in shown and "error: no ChainedRecordsDataEnd in the capture" in shown
    assert "CaptureSecretsWarning" in shown and "Authorization header" in shown
    calls = plain(book, "calls = capture.calls_frame()")
    assert calls.count(" ok ") == 3 and "IncompleteResult" in calls and "ChainedRecordError" in calls
    assert "connect replies" in plain(book, "connects = messages[")
    diagnosis = plain(book, "diagnosis = capture.diagnose()")
    assert "[ocs_error]" in diagnosis and "Record not found" in diagnosis and "✓ session" in diagnosis
    redacted = plain(book, "redacted_path = folder")
    assert "secrets left: none" in redacted and "same sessions: True | same calls: True" in redacted
    assert "gwsnb-redacted-phone-" in redacted and "'jsessionid'" in redacted
