"""What goes over the wire: the body the sandbox received for each operation equals the contract's request
(docs/record-operations.md), the acknowledgement pair is correlated to its call, the sent request is in the
client's event log."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import APPLICATION, CAMPAIGN, KW, LIST, last_body, preview

COMMON = {"applicationId": APPLICATION, "campaignName": CAMPAIGN}


def sent(sb: Sandbox, result: gwsnb.OperationResult) -> tuple[str, dict[str, Any]]:
    path, body = last_body(sb)
    assert body["referenceId"] == result.reference_id
    assert body.pop("devicePath") == sb.device_path
    body.pop("referenceId")
    return path, body


def test_campaign_operations(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    for name, call in (("StartPreviewSession", client.start_preview_session),
                       ("GetPreviewRecord", client.get_preview_record),
                       ("EndPreviewSession", client.end_preview_session)):
        result = call(**KW)
        assert sent(sb, result) == ("/api/v2/me/outbound-campaigns/Campaign1",
                                    {"operationName": name, "applicationId": APPLICATION})
        assert result.user_event is not None
        assert result.acknowledgement is not None and result.acknowledgement["referenceId"] == result.reference_id


def test_campaign_name_is_percent_encoded(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    with pytest.raises(gwsnb.RecordOperationError) as caught:
        client.start_preview_session(campaign_name="Spring sale/2026 é", application_id=APPLICATION)
    assert caught.value.error_code == 102
    assert sb.received_bodies()[-1].path == "/api/v2/me/outbound-campaigns/Spring sale/2026 é"


def test_record_operations(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    path = "/api/v2/me/outbound-records/2"
    result = client.update_record(2, phone_number="+1555", phone_type="VoiceMail", time_zone="PST", daily_from=0,
                                  daily_till=86399, **KW)
    assert sent(sb, result) == (path, {**COMMON, "operationName": "UpdateRecord", "phoneNumber": "+1555",
                                       "phoneType": "VoiceMail", "timeZone": "PST", "from": 0, "until": 86399})
    result = client.complete_record(2, calling_list=LIST, call_result=9, **KW)
    assert sent(sb, result) == (path, {**COMMON, "operationName": "CompleteRecord", "callingList": LIST,
                                       "callResult": "AnsweringMachineDetected"})
    result = client.complete_record(3, calling_list=LIST, call_result="no answer", phone_number="+1666", **KW)
    assert sent(sb, result)[1]["callResult"] == "no answer"  # a label is sent as the user wrote it
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    result = client.reschedule_record(1, callback_type="Personal", timestamp=when, **KW)
    assert sent(sb, result) == ("/api/v2/me/outbound-records/1", {
        **COMMON, "operationName": "RescheduleRecord", "callbackType": "Personal",
        "timestamp": int(when.timestamp())})


def test_reject_and_do_not_call(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    result = client.reject_record(1, calling_list=LIST, **KW)
    assert sent(sb, result) == ("/api/v2/me/outbound-records/1",
                                {**COMMON, "operationName": "RejectRecord", "callingList": LIST})
    held = client.get_preview_record(**KW).record_handle
    result = client.do_not_call(held, calling_list=LIST, chain=False, **KW)
    assert sent(sb, result) == (f"/api/v2/me/outbound-records/{held}", {
        **COMMON, "operationName": "DoNotCallRecord", "callingList": LIST, "chainAttribute": "RecordOnly"})
    result = client.do_not_call(phone_number="+1777", **KW)
    assert sent(sb, result) == ("/api/v2/me/outbound-records", {
        **COMMON, "operationName": "DoNotCallRecord", "phoneNumber": "+1777", "chainAttribute": "AllChain"})


def test_add_record(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    result = client.add_record(calling_list=LIST, phone_number="+1888", time_zone="GMT", phone_type="HomePhone",
                               daily_from=0, daily_till=86339, chain_id=2, other_fields={"customer_name": "N"}, **KW)
    assert sent(sb, result) == ("/api/v2/me/outbound-records", {
        **COMMON, "operationName": "AddRecord", "callingList": LIST, "phoneNumber": "+1888", "timeZone": "GMT",
        "phoneType": "HomePhone", "from": 0, "until": 86339, "chainId": 2, "otherFields": {"customer_name": "N"}})


def test_acknowledgement_pair_shape(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    result = client.reject_record(1, calling_list=LIST, reference_id="123456789", **KW)
    device_id = sb.device_path.rsplit("/", 1)[-1]
    assert result.acknowledgement == {
        "messageType": "OutboundRecordMessage", "notificationType": "RecordRejectAcknowledge",
        "referenceId": "123456789", "record": {"devicePath": sb.device_path, "callingList": LIST,
                                               "applicationId": APPLICATION, "recordHandle": 1,
                                               "campaignName": CAMPAIGN}}
    assert result.user_event is not None
    assert result.user_event["deviceId"] == device_id and "referenceId" not in result.user_event
    assert result.user_event["userData"] == {
        "GSW_APPLICATION_ID": APPLICATION, "GSW_RECORD_HANDLE": 1, "GSW_USER_EVENT": "RecordRejectAcknowledge",
        "GSW_CALLING_LIST": LIST, "GSW_CAMPAIGN_NAME": CAMPAIGN}
    assert set(result.user_event["metrics"]["eventProcessing"]) == {
        "serverGenerationTimestamp", "nodeProcessingTimeNanos", "serverProcessingTimeTotalMs"}
    timings = result.timings
    assert timings.http_ms is not None and timings.total_ms is not None and timings.total_ms >= 0
    assert [e.channel for e in result.events] == ["/v2/me/outbound", "/me/internal"]


def test_sent_request_is_in_the_event_log(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    result = client.start_preview_session(**KW)
    mine = [e for e in client.event_log if e.data.get("referenceId") == result.reference_id]
    assert [e.channel for e in mine] == ["/gwsnb/sent", "/v2/me/outbound"]
    assert mine[0].message["gwsnb.sent"] == {"method": "POST", "path": "/me/outbound-campaigns/Campaign1"}
    assert mine[0].data["operationName"] == "StartPreviewSession"
    assert sb.password not in str(client.event_log.snapshot())
    frame = client.events_frame()
    assert (frame["reference_id"] == result.reference_id).sum() == 2


def test_concurrent_operations_each_get_their_own_acknowledgement(client: gwsnb.GwsClient) -> None:
    async def add_many() -> list[gwsnb.OperationResult]:
        return await asyncio.gather(*(client.add_record_async(
            calling_list=LIST, phone_number=f"+1999555{i:04d}", time_zone="PST", phone_type="Mobile", daily_from=0,
            daily_till=86399, **KW) for i in range(8)))

    results = asyncio.run(add_many())
    assert sorted(r.record_handle for r in results if r.record_handle is not None) == list(range(9, 17))
    for r in results:
        assert r.user_event is not None and r.user_event["userData"]["GSW_RECORD_HANDLE"] == r.record_handle
    assert client.unmatched_events == 0


def test_duplicates_and_lost_user_events(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    sb.faults.duplicate = True
    result = client.start_preview_session(**KW)
    assert result.notification_type == "PreviewSessionStarted" and result.user_event is not None
    sb.faults.duplicate = False
    sb.faults.drop_user_events = True
    record = client.get_preview_record(**KW)
    assert record.record_handle == 1 and record.user_event is None
    assert client.complete_record(1, calling_list=LIST, **KW).user_event is None


def test_another_sessions_notifications_are_not_taken(sb: Sandbox, client: gwsnb.GwsClient,
                                                      reader: gwsnb.GwsClient) -> None:
    sb.faults.foreign = True
    result = client.start_preview_session(**KW)
    assert result.notification_type == "PreviewSessionStarted"
    deadline = time.monotonic() + 5.0
    while reader.unmatched_events < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reader.unmatched_events == 2  # the acknowledgement and its user event: seen, not taken


def test_preview_record_empty_is_not_an_error(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    client.start_preview_session(**KW)
    handles = [client.get_preview_record(**KW).record_handle for _ in range(4)]
    assert handles == [1, 4, 6, 7]
    empty = client.get_preview_record(**KW)
    assert empty.empty and empty.record_handle is None and empty.user_event is None
    assert empty.acknowledgement is not None and empty.acknowledgement["notificationType"] == "PreviewRecordEmpty"


def test_a_failed_operation_does_not_take_a_later_user_event(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    with pytest.raises(gwsnb.RecordOperationError):
        client.update_record(1, **KW)  # 105, not held: it lingers without a user event
    preview(client)
    sb.faults.latency_ms = 400  # the next user event comes after the acknowledgement's grace
    result = client.update_record(1, **KW)  # same handle, same acknowledgement name
    sb.faults.latency_ms = 0
    deadline = time.monotonic() + 5.0
    while result.user_event is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert result.user_event is not None and result.user_event["userData"]["GSW_RECORD_HANDLE"] == 1
