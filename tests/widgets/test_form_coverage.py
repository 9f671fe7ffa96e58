"""The form's "Call every handle" box (issue 20 item 5): each chain once by default, every handle when ticked;
calls counted on the sandbox's side."""

from __future__ import annotations

from collections import Counter

import gwsnb
from gwsnb.sandbox import Sandbox
from gwsnb.widgets import ChainedRecordForm

WAIT_S = 30.0


def _click(form: ChainedRecordForm, sb: Sandbox) -> Counter[int]:
    before = Counter(sb.chained_record_requests())
    form.run_button.click()
    assert form.wait(WAIT_S), "the background run did not finish"
    return Counter(sb.chained_record_requests()) - before


def test_each_chain_once_unless_every_handle_is_ticked(sandbox: Sandbox, client: gwsnb.GwsClient) -> None:
    sb = sandbox
    handles = [int(h) for h in sb.calling_list["record_handle"]][:40]
    form = ChainedRecordForm(client, campaign_name=sb.campaign_name, application_id=sb.application_id, timeout=5.0)
    form.handles.value = f"{handles[0]}-{handles[-1]}"
    assert form.every_handle.value is False and "gwsnb-every-handle" in form.every_handle._dom_classes

    requests = _click(form, sb)
    assert form.errors == {} and form.batch is not None
    covered = {c.record_handle for c in form.batch.covered}
    assert covered and set(requests) == set(handles) - covered and max(requests.values()) == 1
    assert [r.record_handle for r in form.results] == [h for h in handles if h in requests]
    assert f"{len(covered)} handle(s) covered" in form.status.value
    records = form.records_frame()
    assert not records["record_handle"].duplicated().any() and set(handles) <= set(records["record_handle"])
    calls = form.calls_frame()
    assert set(calls.loc[calls["status"] == "covered", "record_handle"]) == covered

    form.every_handle.value = True
    requests = _click(form, sb)
    assert requests == Counter(handles) and not form.batch.covered and len(form.results) == len(handles)
    assert "covered" not in form.status.value
    form.close()
