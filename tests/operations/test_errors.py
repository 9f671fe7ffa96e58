"""Each documented error of docs/record-operations.md: the asynchronous Error notifications 101-110, raised as
RecordOperationError (a ChainedRecordError), and the synchronous statusCodes of a request the client cannot
prevent (a device that is not the user's)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from ..reliability.conftest import wait_for
from ..stalls import held_loop
from .conftest import APPLICATION, CAMPAIGN, KW, LIST, preview, row
from .test_wire import sent


def error_of(call: Callable[[], Any]) -> gwsnb.RecordOperationError:
    with pytest.raises(gwsnb.RecordOperationError) as caught:
        call()
    error = caught.value
    assert isinstance(error, gwsnb.ChainedRecordError)
    assert error.notification is not None and error.notification["notificationType"] == "Error"
    assert error.operation_result is not None and error.operation_result.user_event is None
    return error


def test_101_unknown_record(client: gwsnb.GwsClient) -> None:
    error = error_of(lambda: client.complete_record(999, calling_list=LIST, **KW))
    assert error.error_code == 101 and error.record_handle == 999 and error.operation == "CompleteRecord"
    assert error.notification is not None and error.notification["record"]["recordHandle"] == 999
    assert "CompleteRecord failed for record handle 999: errorCode=101" in str(error)


def test_102_unknown_campaign_and_103_unknown_application(client: gwsnb.GwsClient) -> None:
    assert error_of(lambda: client.reject_record(1, campaign_name="Nope", application_id=APPLICATION,
                                                 calling_list=LIST)).error_code == 102
    error = error_of(lambda: client.start_preview_session(campaign_name=CAMPAIGN, application_id=7))
    assert error.error_code == 103
    assert error.notification is not None and error.notification["messageType"] == "OutboundCampaignMessage"
    assert error.notification["campaign"]["name"] == CAMPAIGN
    assert error_of(lambda: client.add_record(campaign_name=CAMPAIGN, application_id=7, calling_list=LIST,
                                              phone_number="+1", time_zone="GMT", phone_type=1, daily_from=0,
                                              daily_till=1)).error_code == 103


def test_104_injected(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    sb.faults.error_handles = {2}
    assert error_of(lambda: client.update_record(2, **KW)).error_code == 104


def test_105_not_held(client: gwsnb.GwsClient) -> None:
    for call in (lambda: client.complete_record(4, calling_list=LIST, **KW),
                 lambda: client.update_record(4, **KW),
                 lambda: client.reject_record(4, calling_list=LIST, **KW),
                 lambda: client.reschedule_record(4, callback_type="Campaign", timestamp=0, **KW),
                 lambda: client.do_not_call(4, calling_list=LIST, **KW)):
        assert error_of(call).error_code == 105
    assert row(client, 4)["record_status"] == 1  # nothing changed


def test_105_held_by_another_device() -> None:
    with Sandbox(chains=5, seed=2, devices=2) as sb, \
            gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, allow_writes=True) as c:
        first, second = sb.device_paths
        c.start_preview_session(device_path=first, **KW)
        handle = c.get_preview_record(device_path=first, **KW).record_handle
        assert handle is not None
        error = error_of(lambda: c.reject_record(handle, calling_list=LIST, device_path=second, **KW))
        assert error.error_code == 105


def test_106_already_processed(client: gwsnb.GwsClient) -> None:
    preview(client)
    client.complete_record(2, calling_list=LIST, **KW)
    error = error_of(lambda: client.complete_record(2, calling_list=LIST, **KW))
    assert (error.error_code, error.error_message) == (106, "Record already processed: handle 2")
    client.do_not_call(1, calling_list=LIST, **KW)
    assert error_of(lambda: client.update_record(3, **KW)).error_code == 106  # No Call is final


def test_107_calling_list(client: gwsnb.GwsClient) -> None:
    preview(client)
    error = error_of(lambda: client.complete_record(1, calling_list="OtherList", **KW))
    assert error.error_code == 107
    assert error.notification is not None and error.notification["record"]["callingList"] == "OtherList"
    assert error_of(lambda: client.do_not_call(phone_number="+1", calling_list="OtherList", **KW)).error_code == 107


def test_108_no_preview_session(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    error = error_of(lambda: client.get_preview_record(**KW))
    assert error.error_code == 108 and error.record_handle is None
    assert "the campaign or list" in str(error)
    sb.dialing_mode = "Predictive"
    assert error_of(lambda: client.start_preview_session(**KW)).error_code == 108


def test_109_chain_not_found(client: gwsnb.GwsClient) -> None:
    error = error_of(lambda: client.add_record(calling_list=LIST, phone_number="+1", time_zone="GMT",
                                               phone_type="Mobile", daily_from=0, daily_till=1, chain_id=4, **KW))
    assert error.error_code == 109


def test_110_unknown_time_zone(client: gwsnb.GwsClient) -> None:
    preview(client)
    assert error_of(lambda: client.update_record(1, time_zone="Mars/Olympus", **KW)).error_code == 110
    assert row(client, 1)["tz_dbid"] == 104
    assert error_of(lambda: client.add_record(calling_list=LIST, phone_number="+1", time_zone="XYZ",
                                              phone_type="Mobile", daily_from=0, daily_till=1, **KW)).error_code == 110


def test_a_device_that_is_not_the_users_is_status_6(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    with pytest.raises(gwsnb.NotFoundError) as caught:
        client.complete_record(1, calling_list=LIST, device_path="/devices/not-mine", **KW)
    assert caught.value.status_code == 6 and caught.value.record_handle == 1


def test_the_sandbox_answers_bad_bodies_synchronously(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    """What the client's validator never lets through, sent raw: statusCode 1 or 10 and no notification."""
    import requests

    http = requests.Session()
    token = http.get(sb.url + "/me", auth=(sb.username, sb.password), timeout=10).headers["X-CSRF-TOKEN"]
    http.headers["X-CSRF-TOKEN"] = token
    base = {"applicationId": APPLICATION, "devicePath": sb.device_path, "campaignName": CAMPAIGN}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/me/outbound-records/1", {"operationName": "RejectRecord", **base}, 1, "callingList"),
        ("/me/outbound-records/1", {"operationName": "RescheduleRecord", **base, "callbackType": "Later",
                                    "timestamp": 1}, 10, "callbackType"),
        ("/me/outbound-records/1", {"operationName": "RescheduleRecord", **base, "callbackType": "Campaign",
                                    "timestamp": "soon"}, 10, "timestamp"),
        ("/me/outbound-records/1", {"operationName": "CompleteRecord", **base, "callingList": LIST,
                                    "callResult": "Excellent"}, 10, "callResult"),
        ("/me/outbound-records/1", {"operationName": "DoNotCallRecord", **base, "callingList": LIST,
                                    "chainAttribute": "Everything"}, 10, "chainAttribute"),
        ("/me/outbound-records/0", {"operationName": "RejectRecord", **base, "callingList": LIST}, 10, "handle"),
        ("/me/outbound-records", {"operationName": "AddRecord", **base, "callingList": LIST, "phoneNumber": "+1",
                                  "timeZone": "GMT", "phoneType": "Fax", "from": 0, "until": 1}, 10, "phoneType"),
        ("/me/outbound-records", {"operationName": "AddRecord", **base, "callingList": LIST, "phoneNumber": "+1",
                                  "timeZone": "GMT", "phoneType": "Mobile", "from": 0, "until": 86400}, 10, "until"),
        ("/me/outbound-records", {"operationName": "DoNotCallRecord", **base}, 1, "phoneNumber"),
        ("/me/outbound-records", {"operationName": "GetChainedRecord", **base}, 10, "GetChainedRecord"),
        ("/me/outbound-campaigns/Campaign1", {"operationName": "GetPreviewRecord", **base,
                                              "devicePath": "/devices/x"}, 6, "/devices/x"),
    ]
    untouched = sb.calling_list
    for path, body, code, words in cases:
        answer = http.post(sb.url + path, json=body, timeout=10).json()
        assert answer["statusCode"] == code and words in answer["statusMessage"], (body, answer)
    assert sb.calling_list is untouched  # nothing changed


def test_complete_record_accepts_any_label_spelling(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    preview(client)
    result = client.complete_record(1, calling_list=LIST, call_result="answering-machine detected", **KW)
    assert sent(sb, result)[1]["callResult"] == "answering-machine detected"
    assert row(client, 1)["call_result"] == 9


def test_a_post_unanswered_past_the_operations_timeout_ends_with_its_timeout(sb: Sandbox) -> None:
    """As for GetChainedRecord (tests/client/test_calls.py): the HTTP timer and the operation's deadline come due
    in one loop iteration; the operation ends with its NotificationTimeout ("no HTTP answer", it may have been
    applied), not with the HTTP timer's TransportError."""
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=2.0, allow_writes=True) as client, \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiters = client._correlator.operations
        assert waiters is not None
        with held_loop(sb._loop.loop):  # type: ignore[union-attr]
            pending = pool.submit(client.start_preview_session, **KW)
            wait_for(lambda: len(waiters) == 1, what="the operation registered, its POST on its way")
            time.sleep(0.2)  # the POST is sent: the client's loop waits for its answer
            with held_loop(client._loop.loop):  # type: ignore[union-attr]
                time.sleep(2.5)  # past the operation's deadline and the HTTP timer
            with pytest.raises(gwsnb.NotificationTimeout, match=r"no HTTP answer within [\d.]+ s; the operation may"):
                pending.result(timeout=30)
