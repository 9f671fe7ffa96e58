"""ChainedRecordForm without a browser: set values, click, and check state, results and errors."""

from __future__ import annotations

import base64
import re
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.errors import InvalidParameterError
from gwsnb.sandbox import Sandbox
from gwsnb.widgets import ChainedRecordForm

WAIT_S = 30.0


def chain_of(sb: Sandbox, handle: int) -> pd.DataFrame:
    frame = sb.calling_list
    chain_id = frame.loc[frame["record_handle"] == handle, "chain_id"].iloc[0]
    return frame[frame["chain_id"] == chain_id].sort_values("chain_n")


def click_and_wait(form: ChainedRecordForm) -> None:
    form.run_button.click()
    assert form.wait(WAIT_S), "the background run did not finish"


def new_form(sb: Sandbox, client: Any, handles: str) -> ChainedRecordForm:
    form = ChainedRecordForm(client, campaign_name=sb.campaign_name, application_id=sb.application_id,
                             timeout=5.0)
    form.handles.value = handles
    return form


def test_starts_connected_with_the_clients_devices(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = ChainedRecordForm(client)
    assert form.connection_box.layout.display == "none"
    assert [value for _, value in form.device.options] == [d.path for d in client.devices]
    assert form.device.value == sb.device_path
    assert not form.run_button.disabled
    assert sb.username in form.connection_label.value


def test_click_one_chain_shows_its_records(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    handle = sb.record_handles[0]
    form = new_form(sb, client, str(handle))
    click_and_wait(form)
    chain = chain_of(sb, handle)
    assert form.errors == {}
    assert [r.record_handle for r in form.results] == [handle]
    frame = form.records_frame()
    assert frame["contact_info"].tolist() == chain["contact_info"].tolist()
    for phone in chain["contact_info"]:
        assert phone in form.records_table.value
    assert form.metrics_frame()["server_processing_ms"].notna().any()
    assert "<svg" in form.chart.value
    assert not form.run_button.disabled
    # the CSV link carries exactly the records frame
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)", form.download.value)
    assert payload is not None
    csv = base64.b64decode(payload.group(1)).decode()
    assert csv.splitlines()[0].startswith("reference_id,record_handle")
    assert all(phone in csv for phone in chain["contact_info"])


def test_several_handles_progress_and_order(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    handles = sorted(sb.calling_list["record_handle"].tolist())[:12]
    text = f"{handles[0]}, {handles[1]}, {handles[2]}-{handles[11]}"
    form = new_form(sb, client, text)
    form.every_handle.value = True  # one result per handle (each chain once: test_form_coverage.py)
    results = form.submit()
    assert [r.record_handle for r in results] == handles
    assert form.progress.max == len(handles) and form.progress.value == len(handles)
    assert form.progress.layout.display is None
    assert form.progress.bar_style == "success"
    expected = sum(len(chain_of(sb, h)) for h in handles)
    assert len(form.records_frame()) == expected
    assert "12 call(s)" in form.status.value


def test_bad_handle_text_is_refused_before_sending(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = new_form(sb, client, "7, x9")
    sent_before = len(client.event_log.snapshot())
    click_and_wait(form)
    assert isinstance(form.error, InvalidParameterError)
    assert form.error.field == "record_handles"
    assert "x9" in form.error_box.value and "record_handles" in form.error_box.value
    assert form.results == []
    assert len(client.event_log.snapshot()) == sent_before
    assert not form.run_button.disabled
    with pytest.raises(InvalidParameterError) as info:
        form.submit()
    assert info.value.field == "record_handles"


@pytest.mark.parametrize(
    ("field", "widget", "value"),
    [("campaign_name", "campaign", "   "), ("timeout", "timeout", 0.0), ("record_handles", "handles", "9-3")],
)
def test_other_bad_fields_name_the_field(sb: Sandbox, client: gwsnb.GwsClient, field: str, widget: str,
                                         value: Any) -> None:
    form = new_form(sb, client, str(sb.record_handles[0]))
    getattr(form, widget).value = value
    with pytest.raises(InvalidParameterError) as info:
        form.submit()
    assert info.value.field == field
    assert field in form.error_box.value


def test_unknown_device_is_refused(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = new_form(sb, client, str(sb.record_handles[0]))
    with pytest.raises(InvalidParameterError) as info:
        form.set_params(device_path="/devices/not-mine")
    assert info.value.field == "device_path"
    assert "not-mine" in form.error_box.value
    assert form.device.value == sb.device_path


def test_server_status_error_inline_then_usable(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    handle = sb.record_handles[0]
    form = new_form(sb, client, str(handle))
    # a device list gone stale: the path is well formed but not the user's, so GWS answers statusCode 6
    form.device.options = [*form.device.options, ("stale", "/devices/stale-device")]
    form.device.value = "/devices/stale-device"
    click_and_wait(form)
    assert isinstance(form.errors[handle], gwsnb.GwsStatusError)
    assert form.errors[handle].status_code == 6
    assert "statusCode 6" in form.error_box.value
    assert form.errors[handle].status_message in form.error_box.value.replace("&#x27;", "'")
    assert form.results == [] and not form.run_button.disabled
    form.device.value = sb.device_path
    click_and_wait(form)
    assert form.errors == {} and [r.record_handle for r in form.results] == [handle]
    assert form.error_box.value == ""


def test_error_notification_for_one_handle_keeps_the_others(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    first, second = sb.record_handles[0], sb.record_handles[1]
    sb.faults.error_handles = {second}
    form = new_form(sb, client, f"{first}, {second}")
    form.submit()
    assert [r.record_handle for r in form.results] == [first]
    assert isinstance(form.errors[second], gwsnb.ChainedRecordError)
    assert f"record handle {second}" in form.error_box.value and "errorCode" in form.error_box.value
    assert "1 failed" in form.status.value
    assert form.progress.bar_style == "warning"


def test_timeout_shows_partial_result(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    handle = sb.record_handles[0]
    sb.faults.drop_data_end_handles = {handle}
    form = new_form(sb, client, str(handle))
    form.timeout.value = 1.0
    form.submit()
    error = form.errors[handle]
    assert isinstance(error, gwsnb.NotificationTimeout)
    assert error.result is not None and len(error.result.records) == len(chain_of(sb, handle))
    assert "partial result" in form.error_box.value


def test_button_disabled_while_running(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    sb.faults.latency_ms = 150.0
    form = new_form(sb, client, str(sb.record_handles[0]))
    form.run_button.click()
    try:
        assert form.running and form.run_button.disabled
        with pytest.raises(RuntimeError):
            form.submit()
    finally:
        assert form.wait(WAIT_S)
    assert not form.run_button.disabled and len(form.results) == 1


def test_set_params_fills_fields(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = ChainedRecordForm(client)
    form.set_params(campaign_name=sb.campaign_name, application_id=sb.application_id, device_path=sb.device_path,
                    record_handles=[3, 4], timeout=7)
    assert (form.campaign.value, form.application_id.value, form.device.value, form.handles.value,
            form.timeout.value) == (sb.campaign_name, sb.application_id, sb.device_path, "3, 4", 7.0)
    params = form.params()
    assert [p.record_handle for p in params] == [3, 4]
    with pytest.raises(InvalidParameterError) as info:
        form.set_params(application_id=0)
    assert info.value.field == "application_id"


def test_connection_row_connects_and_forgets_the_password(sb: Sandbox) -> None:
    form = ChainedRecordForm(campaign_name=sb.campaign_name, application_id=sb.application_id)
    assert form.connection_box.layout.display is None and form.run_button.disabled
    form.url.value, form.username.value, form.password.value = sb.url, sb.username, sb.password
    try:
        form.connect_button.click()
        deadline_ok = _poll(lambda: form.client is not None, WAIT_S)
        assert deadline_ok, form.error_box.value
        assert form.password.value == ""
        assert form.connection_box.layout.display == "none" and not form.run_button.disabled
        assert sb.password not in repr(form) and sb.password not in repr(form.password)
        form.handles.value = str(sb.record_handles[0])
        assert len(form.submit()) == 1
    finally:
        form.close()
    assert form.client is None


def test_connection_refused_credentials_inline(sb: Sandbox) -> None:
    form = ChainedRecordForm()
    form.url.value, form.username.value, form.password.value = sb.url, sb.username, "wrong-secret"
    with pytest.raises(gwsnb.AuthenticationError):
        form.connect()
    assert form.client is None and form.password.value == ""
    assert "wrong-secret" not in form.error_box.value and "statusCode 20" in form.error_box.value
    assert not form.connect_button.disabled


def test_password_never_in_reprs(sb: Sandbox) -> None:
    form = ChainedRecordForm()
    form.password.value = "s3cr3t-value"
    assert "s3cr3t-value" not in repr(form)
    assert "s3cr3t-value" not in repr(form.password)


def _poll(predicate: Any, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ---------------------------------------------------------------------- a real widget, live checks, folder
def test_the_form_is_a_widget_inside_other_layouts(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    import ipywidgets as w

    form = new_form(sb, client, str(sb.record_handles[0]))
    assert isinstance(form, w.VBox) and form.widget is form
    page = w.Tab(children=[w.VBox([w.HTML("<b>header</b>"), form]), w.HTML("other")])
    assert page.children[0].children[1] is form
    assert "gwsnb-form" in form._dom_classes
    bundle = form._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.model_id
    results = form.submit()  # still works while placed in a layout
    assert len(results) == 1 and sb.password not in repr(form)
    form.close()
    form.close()  # idempotent
    assert form.comm is None and form.run_button.comm is None


def test_handles_field_is_checked_as_you_type(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = new_form(sb, client, "")
    assert form.handles_check.value == ""
    form.handles.value = "7, 9, 20-30"
    assert "13 handles" in form.handles_check.value and "7 … 30" in form.handles_check.value
    form.handles.value = "7, x9"
    assert "record_handles" in form.handles_check.value and "x9" in form.handles_check.value
    assert "gwsnb-status-text" in form.handles_check.value
    form.handles.value = "9-3"
    assert "range end is before its start" in form.handles_check.value
    form.handles.value = "42"
    assert "1 handle" in form.handles_check.value
    assert "gwsnb-handles-check" in form.handles_check._dom_classes


def test_output_folder_that_is_a_file_is_refused_before_sending(sb: Sandbox, client: gwsnb.GwsClient,
                                                                 tmp_path: Any) -> None:
    not_a_folder = tmp_path / "records.csv"
    not_a_folder.write_text("x")
    form = new_form(sb, client, str(sb.record_handles[0]))
    form.out_dir.value = str(not_a_folder)
    sent_before = len(client.event_log.snapshot())
    with pytest.raises(InvalidParameterError) as info:
        form.submit()
    assert info.value.field == "out_dir" and "out_dir" in form.error_box.value
    assert len(client.event_log.snapshot()) == sent_before
    form.out_dir.value = "  "  # blank: not passed at all, the batch stays in memory
    assert len(form.submit()) == 1 and form.run is None and form.batch is not None


def test_output_folder_is_passed_as_out(sb: Sandbox, client: gwsnb.GwsClient, tmp_path: Any) -> None:
    folder = tmp_path / "records"
    form = new_form(sb, client, f"{sb.record_handles[0]}, {sb.record_handles[1]}")
    form.out_dir.value = str(folder)
    form.submit()
    assert form.errors == {} and form.progress.value == 2
    run = gwsnb.open_run(folder)
    assert (run.done, run.failed, run.remaining) == (2, 0, 0)
    assert str(folder) in form.status.value and "open_run" in form.status.value
    for phone in run.records_frame()["contact_info"]:
        assert phone in form.records_table.value


def test_submit_without_a_client_is_the_clients_not_connected_error() -> None:
    form = ChainedRecordForm(campaign_name="Campaign1", application_id=134)
    form.handles.value = "7"
    with pytest.raises(gwsnb.TransportError, match="not connected"):
        form.submit()
    assert "not connected" in form.error_box.value
    form.run_button.click()  # the button shows it inline instead of raising
    assert "not connected" in form.error_box.value
