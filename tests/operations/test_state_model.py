"""Every operation changes the sandbox's calling list as docs/record-operations.md's state model says, and
the change is visible through GetChainedRecord (and ``sb.calling_list``) afterwards."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import KW, LIST, calling_list, chain, preview, row


def statuses(client: gwsnb.GwsClient, handle: int) -> dict[int, int]:
    return {h: ud["record_status"] for h, ud in chain(client, handle).items()}


def test_preview_hands_out_the_first_chain_and_holds_it(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    result = preview(client)
    assert result.record_handle == 1
    assert result.record is not None and result.record["recordHandle"] == 1
    user_data = result.record["userData"]
    assert user_data["record_status"] == 2 and user_data["GSW_AGENT_ID"] == sb.username
    assert user_data["GSW_USER_EVENT"] == "PreviewRecord" and user_data["InteractionType"] == "Outbound"
    assert user_data["GSW_PHONE"] == "+12125550101" and user_data["GSW_CHAIN_ID"] == 1
    assert statuses(client, 1) == {1: 2, 2: 2, 3: 2}
    assert sb.held_chains() == {1: sb.device_path.rsplit("/", 1)[-1]}
    # the next preview skips the held chain; each hand-out has its own attempt GUID
    second = client.get_preview_record(**KW)
    assert second.record_handle == 4
    assert second.record is not None
    assert second.record["userData"]["GSW_CALL_ATTEMPT_GUID"] != user_data["GSW_CALL_ATTEMPT_GUID"]
    frame = sb.calling_list.set_index("record_handle")
    assert frame.loc[[1, 2, 3, 4, 5, 6], "record_status"].tolist() == [2, 2, 2, 2, 2, 1]


def test_contract_example() -> None:
    """docs/record-operations.md's example on chain 5 (handles 7 and 8)."""
    with Sandbox(calling_list=calling_list([(7, "+14155550107", 1, 5, 0), (8, "+14155550108", 4, 5, 1)])) as own, \
            gwsnb.connect(own.url, own.username, own.password, timeout=10.0, allow_writes=True) as c:
        assert preview(c).record_handle == 7
        assert statuses(c, 7) == {7: 2, 8: 2}
        c.complete_record(8, calling_list=LIST, call_result="NoAnswer", **KW)
        eight = row(c, 8)
        assert (eight["record_status"], eight["call_result"], eight["attempt"]) == (3, 7, 1)
        assert row(c, 7)["record_status"] == 2 and own.held_chains() != {}
        due = int(time.time()) + 3600
        c.reschedule_record(7, callback_type="Campaign", timestamp=due, **KW)
        seven = row(c, 7)
        assert (seven["record_status"], seven["record_type"], seven["dial_sched_time"], seven["attempt"]) == \
            (1, 6, due, 1)
        assert own.held_chains() == {}
        assert c.get_preview_record(**KW).empty  # the pending callback holds chain 5 back


def test_complete_the_active_record_finalizes_the_chain(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    before = time.time()
    result = client.complete_record(1, calling_list=LIST, call_result=6, **KW)
    assert result.notification_type == "RecordProcessedAcknowledge"
    records = chain(client, 1)
    assert records[1]["record_status"] == 3 and records[1]["call_result"] == 6 and records[1]["attempt"] == 1
    assert records[1]["call_time"] >= int(before)
    assert records[2]["record_status"] == 7 and records[3]["record_status"] == 7  # Chain Updated
    assert sb.held_chains() == {}


def test_complete_with_a_dialing_error_does_not_count_an_attempt(client: gwsnb.GwsClient) -> None:
    preview(client)
    client.complete_record(1, calling_list=LIST, call_result="Dial Error", phone_number="+12125559999", **KW)
    one = row(client, 1)
    assert (one["call_result"], one["attempt"], one["contact_info"]) == (41, 0, "+12125559999")


def test_complete_without_a_result_keeps_the_old_one(client: gwsnb.GwsClient) -> None:
    preview(client)
    client.complete_record(1, calling_list=LIST, **KW)
    assert row(client, 1)["call_result"] == 28


def test_update_changes_fields_not_status(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    client.update_record(2, phone_number="+12125550199", phone_type="Mobile", time_zone="GMT", daily_from=3600,
                         daily_till=7200, **KW)
    two = row(client, 2)
    assert (two["contact_info"], two["contact_info_type"], two["tz_dbid"], two["daily_from"], two["daily_till"]) == \
        ("+12125550199", 4, 100, 3600, 7200)
    assert two["GSW_TZ_NAME"] == "GMT" and two["record_status"] == 2
    client.update_record(2, **KW)  # an update that changes nothing is acknowledged
    assert sb.held_chains() != {}


def test_reject_returns_the_chain_to_the_back_of_the_queue(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    client.reject_record(1, calling_list=LIST, **KW)
    assert statuses(client, 1) == {1: 1, 2: 1, 3: 1}
    assert sb.held_chains() == {}
    handed = [client.get_preview_record(**KW).record_handle for _ in range(4)]
    assert handed == [4, 6, 7, 1]


def test_reschedule_personal_and_a_due_callback_comes_first(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    due = datetime.now(timezone.utc) - timedelta(seconds=5)
    client.reschedule_record(2, callback_type="Personal", timestamp=due, **KW)
    records = chain(client, 1)
    assert (records[2]["record_type"], records[2]["record_status"], records[2]["attempt"]) == (5, 1, 1)
    assert records[2]["dial_sched_time"] == int(due.timestamp())
    assert records[1]["record_status"] == 1 and records[3]["record_status"] == 1
    frame = sb.calling_list.set_index("record_handle")
    assert frame.loc[2, "agent_id"] == sb.username
    # a CompleteRecord after the reschedule (OCS's reschedule-then-RecordProcessed) changes nothing
    client.complete_record(2, calling_list=LIST, call_result="Answer", **KW)
    assert row(client, 2)["record_status"] == 1
    # the due personal callback is handed out first, before chain 2
    assert client.get_preview_record(**KW).record_handle == 2


def test_do_not_call_the_whole_chain(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    client.complete_record(3, calling_list=LIST, call_result="Busy", **KW)  # final before the DNC
    client.do_not_call(1, calling_list=LIST, **KW)
    records = chain(client, 1)
    assert (records[1]["record_type"], records[1]["call_result"], records[1]["record_status"]) == (7, 51, 3)
    assert (records[2]["record_type"], records[2]["call_result"], records[2]["record_status"]) == (7, 51, 7)
    assert (records[3]["record_type"], records[3]["call_result"]) == (2, 6)  # already final: untouched
    assert sb.held_chains() == {}
    assert [e["phone"] for e in sb.do_not_call_list] == ["+12125550101"]


def test_do_not_call_one_record_returns_the_others(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    preview(client)
    client.do_not_call(1, calling_list=LIST, chain=False, phone_number="+19995550000", **KW)
    records = chain(client, 1)
    assert records[1]["record_type"] == 7 and records[1]["record_status"] == 3
    assert records[2]["record_status"] == 1 and records[2]["record_type"] == 2
    assert sb.held_chains() == {}
    assert sb.do_not_call_list[0]["phone"] == "+19995550000"


def test_do_not_call_by_number(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    result = client.do_not_call(phone_number="+13125550105", **KW)
    assert result.notification_type == "DoNotCallAcknowledge" and result.record_handle is None
    assert result.record is not None and result.record["phoneNumber"] == "+13125550105"
    assert "recordHandle" not in result.record and "callingList" not in result.record
    records = chain(client, 4)
    assert records[5]["record_type"] == 7 and records[5]["record_status"] == 3
    assert records[4]["record_type"] == 7 and records[4]["record_status"] == 7  # AllChain, the default
    client.do_not_call(phone_number="+14155550108", chain=False, **KW)
    records = chain(client, 7)
    assert records[8]["record_type"] == 7 and records[7]["record_type"] == 2  # RecordOnly
    client.do_not_call(phone_number="+10005550000", calling_list=LIST, **KW)  # no record: still acknowledged
    assert [e["phone"] for e in sb.do_not_call_list][-1] == "+10005550000"


def test_a_number_on_the_dnc_list_is_not_handed_out(client: gwsnb.GwsClient) -> None:
    preview(client)
    client.do_not_call(phone_number="+13125550104", chain=False, **KW)
    added = client.add_record(calling_list=LIST, phone_number="+13125550104", time_zone="PST", phone_type="HomePhone",
                              daily_from=0, daily_till=86399, **KW)
    assert added.record_handle is not None
    handed = [client.get_preview_record(**KW) for _ in range(4)]
    assert [h.record_handle for h in handed[:3]] == [5, 6, 7]
    assert handed[3].empty  # the added record's number is on the DNC list
    new = row(client, added.record_handle)
    assert (new["record_type"], new["call_result"], new["record_status"]) == (7, 51, 3)


def test_add_record_to_a_chain_and_to_a_new_chain(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    into = client.add_record(calling_list=LIST, phone_number="+14155550177", time_zone="PST", phone_type=4,
                             daily_from=0, daily_till=86339, chain_id=5,
                             other_fields={"customer_name": "Added", "not_a_field": "x"}, **KW)
    assert into.record_handle == 9
    assert into.user_event is not None and into.user_event["userData"]["GSW_CHAIN_ID"] == 5
    records = chain(client, 7)
    assert list(records) == [7, 8, 9]
    nine = records[9]
    assert (nine["chain_n"], nine["contact_info_type"], nine["record_type"], nine["record_status"],
            nine["call_result"], nine["attempt"], nine["daily_till"]) == (2, 4, 2, 1, 28, 0, 86339)
    assert nine["customer_name"] == "Added" and "not_a_field" not in nine
    alone = client.add_record(calling_list=LIST, phone_number="+14155550178", time_zone="GMT",
                              phone_type="Mobile", daily_from=100, daily_till=200, **KW)
    assert alone.record_handle == 10
    ten = row(client, 10)
    assert (ten["chain_id"], ten["chain_n"], ten["tz_dbid"]) == (6, 0, 100)
    frame = sb.calling_list
    assert frame["record_handle"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_get_chained_record_keeps_reading_final_records(client: gwsnb.GwsClient) -> None:
    preview(client)
    client.do_not_call(1, calling_list=LIST, **KW)
    assert set(chain(client, 2)) == {1, 2, 3}


def test_preview_sessions(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    assert client.start_preview_session(**KW).notification_type == "PreviewSessionStarted"
    assert client.start_preview_session(**KW).notification_type == "PreviewSessionStarted"  # changes nothing
    client.get_preview_record(**KW)
    ended = client.end_preview_session(**KW)
    assert ended.notification_type == "PreviewSessionEnded"
    assert ended.acknowledgement is not None and ended.acknowledgement["campaign"]["state"] == "Started"
    assert sb.held_chains() != {}  # EndPreviewSession leaves held records held
    client.end_preview_session(**KW)  # ending one not started is acknowledged


def test_closing_the_session_returns_held_chains(sb: Sandbox) -> None:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, allow_writes=True) as c:
        preview(c)
        assert sb.held_chains() != {}
    assert sb.held_chains() == {}
    frame = sb.calling_list.set_index("record_handle")
    assert frame.loc[[1, 2, 3], "record_status"].tolist() == [1, 1, 1]


def test_sandbox_calling_list_is_untouched_until_an_operation(sb: Sandbox, reader: gwsnb.GwsClient) -> None:
    first = sb.calling_list
    reader.get_chained_record(1, **KW)
    assert sb.calling_list is first
