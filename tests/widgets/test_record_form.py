"""RecordActionsForm without a browser: nothing is sent without the confirmation or on a read-only client;
with both, the operation goes through the client and the sandbox's calling list changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.record_form import RecordActionsForm
from gwsnb.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=10, seed=7) as sb:
        yield sb


@pytest.fixture()
def writer(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, allow_writes=True) as c:
        yield c


def rest_requests(sb: Sandbox) -> int:
    return sum(n for key, n in sb.request_counts().items() if "/notifications" not in key)


def form_for(sb: Sandbox, client: gwsnb.GwsClient) -> RecordActionsForm:
    return RecordActionsForm(client, campaign_name=sb.campaign_name, application_id=sb.application_id,
                             calling_list=sb.calling_list_name)


def test_complete_after_confirmation(sb: Sandbox, writer: gwsnb.GwsClient) -> None:
    writer.start_preview_session(campaign_name=sb.campaign_name, application_id=sb.application_id)
    handle = writer.get_preview_record(campaign_name=sb.campaign_name, application_id=sb.application_id).record_handle
    form = form_for(sb, writer)
    form.handle.value = str(handle)
    form.call_result.value = "Busy"
    before = rest_requests(sb)
    form.send_button.click()
    assert form.last_result is None and "tick the confirmation" in form.status.value
    assert rest_requests(sb) == before
    form.confirm.value = True
    form.send_button.click()
    assert form.last_result is not None and form.last_result.notification_type == "RecordProcessedAcknowledge"
    assert form.confirm.value is False  # the next send needs its own confirmation
    frame = sb.calling_list.set_index("record_handle")
    assert frame.loc[handle, "record_status"] == 3 and frame.loc[handle, "call_result"] == 6
    form.confirm.value = True
    form.send_button.click()  # again: the record is final now
    assert isinstance(form.last_error, gwsnb.RecordOperationError) and "106" in form.status.value


def test_reschedule_and_bad_input(sb: Sandbox, writer: gwsnb.GwsClient) -> None:
    form = form_for(sb, writer)
    form.action.value = "Reschedule"
    form.handle.value = "abc"
    form.timestamp.value = "1900000000"
    form.confirm.value = True
    before = rest_requests(sb)
    assert form.submit() is None
    assert isinstance(form.last_error, gwsnb.InvalidParameterError) and "record_handle" in form.status.value
    assert rest_requests(sb) == before


def test_read_only_client_sends_nothing(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = form_for(sb, client)
    assert "read-only" in form.status.value
    form.action.value = "Do not call (whole chain)"
    form.handle.value = str(sb.record_handles[0])
    form.confirm.value = True
    before = rest_requests(sb)
    form.send_button.click()
    assert isinstance(form.last_error, gwsnb.WritesNotAllowedError) and "allow_writes" in form.status.value
    assert rest_requests(sb) == before
