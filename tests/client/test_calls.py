"""GetChainedRecord end to end against the sandbox over real sockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any

import pytest

import gwsnb
from gwsnb import errors
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex
from tests.reliability.conftest import wait_for
from tests.stalls import held_loop


def call(client: gwsnb.GwsClient, sb: Sandbox, handle: int, **kwargs: Any) -> gwsnb.ChainedRecordResult:
    return client.get_chained_record(handle, campaign_name=sb.campaign_name,
                                     application_id=sb.application_id, **kwargs)


def test_connect_reads_me_and_devices(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    assert client.me.get("userName") == sb.username
    assert [d.path for d in client.devices] == sb.device_paths
    assert client.devices[0].id == sb.device_path.rsplit("/", 1)[1]
    assert sb.password not in repr(client) or sb.password == sb.username


def test_round_trip_records_equal_calling_list(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handle = sb.record_handles[0]
    result = call(client, sb, handle)
    assert result.complete
    assert len(result.records) >= 3
    ChainIndex(sb).assert_matches(handle, result.records)
    assert result.end is not None and result.end["notificationType"] == "ChainedRecordsDataEnd"
    assert result.end["referenceId"] == result.reference_id
    # every outbound notification is paired with its /me/internal user event
    assert len(result.user_events) == len(result.records) + 1
    assert all(e.channel == "/me/internal" for e in result.user_events)
    assert len(result.events) == 2 * (len(result.records) + 1)
    t = result.timings
    assert t.http_answered is not None and t.first_event is not None and t.data_end is not None
    assert t.sent <= t.http_answered and t.sent <= t.first_event <= t.data_end
    assert result.device_path == sb.device_path


def test_given_reference_id_keeps_its_json_type(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    result = call(client, sb, sb.record_handles[1], reference_id=987654)
    assert result.reference_id == "987654"
    assert result.end is not None and result.end["referenceId"] == 987654


def test_event_log_holds_meta_messages(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    call(client, sb, sb.record_handles[0])
    channels = {e.channel for e in client.event_log}
    assert {"/meta/handshake", "/meta/connect", "/meta/subscribe", "/v2/me/outbound", "/me/internal"} <= channels
    assert all(e.received_at > 0 for e in client.event_log)
    assert client.event_log.dropped == 0


def test_event_log_overflow_is_counted(sb: Sandbox) -> None:
    with pytest.warns(DeprecationWarning, match="event_log_bytes"), \
            gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, event_log_size=5) as c:
        c.get_chained_record(sb.record_handles[0], campaign_name=sb.campaign_name,
                             application_id=sb.application_id)
        assert len(c.event_log) == 5
        assert c.event_log.dropped == c.event_log.total - 5 > 0


def test_event_log_bytes_zero_turns_the_log_off(sb: Sandbox) -> None:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, event_log_bytes=0) as c:
        result = c.get_chained_record(sb.record_handles[0], campaign_name=sb.campaign_name,
                                      application_id=sb.application_id)
        assert result.records and result.events  # the call's own events are the result's, not the log's
        assert len(c.event_log) == 0 and c.event_log.dropped == c.event_log.total > 0
        assert c.events_frame().empty


@pytest.mark.parametrize("budget", [-1, 1.5, True, "32"])
def test_event_log_bytes_is_validated(sb: Sandbox, budget: object) -> None:
    with pytest.raises(gwsnb.InvalidParameterError, match="event_log_bytes"):
        gwsnb.connect(sb.url, sb.username, sb.password, event_log_bytes=budget)  # type: ignore[arg-type]


def test_invalid_parameters_raise_before_sending(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    sent: list[Any] = []
    original = client._rest.post
    client._rest.post = lambda *a, **k: sent.append(a) or original(*a, **k)  # type: ignore[method-assign]
    cases = [
        ({"record_handle": 0}, "record_handle"),
        ({"record_handle": True}, "record_handle"),
        ({"campaign_name": ""}, "campaign_name"),
        ({"campaign_name": "a\nb"}, "campaign_name"),
        ({"application_id": -1}, "application_id"),
        ({"device_path": "devices/x"}, "device_path"),
        ({"reference_id": 1.5}, "reference_id"),
        ({"timeout": 0}, "timeout"),
    ]
    for override, field in cases:
        kwargs: dict[str, Any] = {"record_handle": sb.record_handles[0], "campaign_name": sb.campaign_name,
                                  "application_id": sb.application_id}
        kwargs.update(override)
        handle = kwargs.pop("record_handle")
        with pytest.raises(errors.InvalidParameterError) as info:
            client.get_chained_record(handle, **kwargs)
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
    assert sent == []


def test_device_not_of_the_user_is_not_found(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handle = sb.record_handles[0]
    with pytest.raises(errors.NotFoundError) as info:
        call(client, sb, handle, device_path="/devices/not-mine-0000")
    exc = info.value
    assert exc.status_code == 6 and isinstance(exc, errors.GwsStatusError)
    assert exc.record_handle == handle and exc.result is not None and not exc.result.complete


def test_unknown_handle_gives_error_notification(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handle = int(sb.calling_list["record_handle"].max()) + 1000
    with pytest.raises(errors.ChainedRecordError) as info:
        call(client, sb, handle, timeout=5.0)
    exc = info.value
    assert exc.record_handle == handle
    assert exc.result is not None and exc.result.events, "the Error notification is in the partial result"
    assert exc.error_code is not None


def test_error_fault_gives_chained_record_error(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handle = sb.record_handles[2]
    sb.faults.error_handles = {handle}
    with pytest.raises(errors.ChainedRecordError) as info:
        call(client, sb, handle, timeout=5.0)
    assert info.value.error_code == 104
    assert info.value.result is not None and info.value.result.reference_id


def test_a_post_unanswered_past_the_calls_timeout_ends_with_the_calls_timeout() -> None:
    """The client's HTTP timeout and the call's are the same 2 s (a call's default is the client's).  The server
    stops answering before the POST comes, and the client's loop is held past both: the two timers come due in
    one loop iteration.  The call ends with its own NotificationTimeout ("no HTTP answer"), not with the HTTP
    timer's TransportError (which the innermost timer used to win: docs/testing.md, clean-clone run 18)."""
    with Sandbox(chains=5, seed=3) as sb, gwsnb.connect(sb.url, sb.username, sb.password, timeout=2.0) as client, \
            concurrent.futures.ThreadPoolExecutor(1) as pool, held_loop(sb._loop.loop):  # type: ignore[union-attr]
        pending = pool.submit(call, client, sb, sb.record_handles[0])
        wait_for(lambda: len(client._correlator) == 1, what="the call registered, its POST on its way")
        time.sleep(0.2)  # the POST is sent: the client's loop waits for its answer
        with held_loop(client._loop.loop):  # type: ignore[union-attr]
            time.sleep(2.5)  # past the call's deadline and the HTTP timer
        with pytest.raises(errors.NotificationTimeout, match="no HTTP answer within 2.0 s"):
            pending.result(timeout=30)


def test_lost_data_end_times_out_with_partial_result(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handle = sb.record_handles[0]
    sb.faults.drop_data_end_handles = {handle}
    with pytest.raises(errors.NotificationTimeout) as info:
        call(client, sb, handle, timeout=1.0)
    exc = info.value
    assert isinstance(exc, TimeoutError)
    assert exc.result is not None and exc.result.end is None
    ChainIndex(sb).assert_matches(handle, exc.result.records)
    # the client stays usable
    sb.faults.drop_data_end_handles = set()
    assert call(client, sb, handle).complete


def test_duplicates_are_dropped_from_records(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    sb.faults.duplicate = True
    for handle in sb.record_handles[:3]:
        result = call(client, sb, handle)
        ChainIndex(sb).assert_matches(handle, result.records)
        # the raw duplicates are kept in the events
        assert len(result.events) > 2 * (len(result.records) + 1) - 1


def test_reordered_delivery_gives_chain_order(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    sb.faults.reorder = True
    sb.faults.duplicate = True
    for handle in sb.record_handles[:4]:
        result = call(client, sb, handle)
        rows = {row["record_handle"]: row for row in ChainIndex(sb).chain(handle)}
        chain_ns = [r["userData"]["chain_n"] for r in result.records]
        assert chain_ns == sorted(set(chain_ns)), "sorted by chain_n, no duplicates"
        for record in result.records:
            row = rows[record["recordHandle"]]
            assert record["userData"]["chain_n"] == row["chain_n"]
            assert record["userData"]["contact_info"] == row["contact_info"]


def _end_events(result: gwsnb.ChainedRecordResult) -> int:
    return sum(e.data.get("userData", {}).get("GSW_USER_EVENT") == "ChainedRecordsDataEnd"
               for e in result.user_events)


def test_data_end_metrics_are_in_the_result_when_they_come_in_a_later_long_poll(
        client: gwsnb.GwsClient, sb: Sandbox) -> None:
    # each notification is delayed on its own, so DataEnd and its user event reach the client in separate
    # long-poll answers: the result must still hold DataEnd's user event (its metrics) when returned
    sb.faults.latency_ms = 15
    for handle in sb.record_handles[:3]:
        result = call(client, sb, handle)
        assert _end_events(result) == 1
        assert len(result.user_events) == len(result.records) + 1
        assert "ChainedRecordsDataEnd" in set(result.metrics_frame()["user_event"].astype(str))


def test_a_server_without_user_events_stops_being_waited_for(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    sb.faults.drop_user_events = True
    correlator = client._correlator
    assert correlator.end_events_seen  # the contract says GWS sends them: the first call waits a grace
    first = call(client, sb, sb.record_handles[0])
    assert first.complete and first.user_events == []
    assert not correlator.end_events_seen  # ... and later calls do not wait any more
    ChainIndex(sb).assert_matches(sb.record_handles[1], call(client, sb, sb.record_handles[1]).records)
    sb.faults.drop_user_events = False
    assert _end_events(call(client, sb, sb.record_handles[2])) == 1
    assert correlator.end_events_seen  # user events are back: waiting for them again


def test_several_devices_need_device_path(sb: Sandbox) -> None:
    with Sandbox(chains=5, seed=2, devices=2) as sb2, gwsnb.connect(sb2.url, sb2.username, sb2.password) as c:
        with pytest.raises(errors.DeviceSelectionError) as info:
            c.get_chained_record(sb2.record_handles[0], campaign_name=sb2.campaign_name,
                                 application_id=sb2.application_id)
        assert info.value.choices == sb2.device_paths
        result = c.get_chained_record(sb2.record_handles[0], campaign_name=sb2.campaign_name,
                                      application_id=sb2.application_id, device_path=sb2.device_paths[1])
        assert result.complete and result.device_path == sb2.device_paths[1]


def test_bad_password_is_an_authentication_error(sb: Sandbox) -> None:
    with pytest.raises(errors.AuthenticationError) as info:
        gwsnb.connect(sb.url, sb.username, "wrong-" + sb.password)
    assert "wrong-" not in str(info.value)


def test_password_from_environment(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GWS_PASSWORD", sb.password)
    with gwsnb.connect(sb.url, sb.username) as c:
        assert c.me.get("userName") == sb.username


def test_close_is_idempotent_and_final(sb: Sandbox) -> None:
    c = gwsnb.connect(sb.url, sb.username, sb.password)
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(errors.TransportError):
        call(c, sb, sb.record_handles[0])


def _handles(sb: Sandbox, n: int) -> list[int]:
    return [int(h) for h in sb.calling_list["record_handle"].iloc[:: max(1, len(sb.calling_list) // n)][:n]]


async def test_100_concurrent_async_calls(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = _handles(sb, 100)
    results = await asyncio.gather(*(
        client.get_chained_record_async(h, campaign_name=sb.campaign_name, application_id=sb.application_id)
        for h in handles))
    assert len({r.reference_id for r in results}) == 100
    for handle, result in zip(handles, results, strict=True):
        assert result.record_handle == handle and result.complete
        ChainIndex(sb).assert_matches(handle, result.records)
        assert len(result.user_events) == len(result.records) + 1
    assert client.unmatched_events == 0


def test_8_threads_blocking_calls(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = _handles(sb, 40)
    failures: list[BaseException] = []
    done: list[int] = []

    def worker(mine: list[int]) -> None:
        try:
            for handle in mine:
                result = call(client, sb, handle)
                ChainIndex(sb).assert_matches(handle, result.records)
                done.append(handle)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(handles[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:3]
    assert sorted(done) == sorted(handles)


def test_first_sample_handle_is_a_multi_record_chain(sb: Sandbox) -> None:
    assert len(ChainIndex(sb).chain(sb.record_handles[0])) >= 3
