"""Each fault switch of the sandbox, and the effect it has on what a Bayeux peer receives."""

from __future__ import annotations

import email.utils
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from gwsnb.sandbox import Faults, Sandbox

from .conftest import RawGws, data_end_seen

Message = dict[str, Any]


@pytest.fixture(scope="module")
def fsb() -> Iterator[Sandbox]:
    with Sandbox(chains=200, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def peer(fsb: Sandbox) -> Iterator[RawGws]:
    fsb.faults = Faults()
    p = RawGws(fsb)
    p.open()
    yield p
    fsb.faults = Faults()
    p.close()


def _kind(m: Message) -> tuple[str, str, Any]:
    data = m["data"]
    if m["channel"] == "/me/internal":
        return ("internal", data["userData"]["GSW_USER_EVENT"], data["userData"]["GSW_RECORD_HANDLE"])
    handle = data["record"]["recordHandle"]
    return ("outbound", data["notificationType"], handle)


def _long_handle(sb: Sandbox) -> int:
    df = sb.calling_list
    sizes = df.groupby("chain_id")["record_handle"].transform("size")
    return int(df.loc[sizes == sizes.max(), "record_handle"].iloc[0])


def _chain_len(sb: Sandbox, handle: int) -> int:
    df = sb.calling_list
    chain_id = df.loc[df["record_handle"] == handle, "chain_id"].iloc[0]
    return int((df["chain_id"] == chain_id).sum())


def _normal_sequence(peer: RawGws, handle: int) -> list[Message]:
    peer.get_chained_record(handle)
    return peer.collect(data_end_seen)


def test_latency_is_added_before_each_notification(fsb: Sandbox, peer: RawGws) -> None:
    fsb.faults.latency_ms = 100
    handle = _long_handle(fsb)
    got = _normal_sequence(peer, handle)
    nanos = [m["data"]["metrics"]["eventProcessing"]["nodeProcessingTimeNanos"] for m in got if m["channel"] == "/me/internal"]
    assert len(nanos) == _chain_len(fsb, handle) + 1
    # Each user event follows its outbound message: two latencies apart, measured by the server's own clock.
    assert nanos[0] >= 2 * 100e6 * 0.9
    assert all(b - a >= 2 * 100e6 * 0.9 for a, b in zip(nanos, nanos[1:], strict=False))


def test_drop_data_end(fsb: Sandbox, peer: RawGws) -> None:
    fsb.faults.drop_data_end = True
    handle = _long_handle(fsb)
    n = _chain_len(fsb, handle)
    peer.get_chained_record(handle)
    got = peer.collect(lambda m: len(m) >= 2 * n)
    got += peer.collect_for(0.5)
    assert len(got) == 2 * n
    assert all(_kind(m)[1] == "ChainedRecord" for m in got)


def test_drop_data_end_for_chosen_handles(fsb: Sandbox, peer: RawGws) -> None:
    dropped, kept = fsb.record_handles[0], fsb.record_handles[1]
    fsb.faults.drop_data_end_handles = {dropped}
    got = _normal_sequence(peer, kept)
    assert _kind(got[-2]) == ("outbound", "ChainedRecordsDataEnd", kept)
    n = _chain_len(fsb, dropped)
    peer.get_chained_record(dropped)
    got = peer.collect(lambda m: len(m) >= 2 * n)
    got += peer.collect_for(0.5)
    assert "ChainedRecordsDataEnd" not in {_kind(m)[1] for m in got}


def test_drop_user_events(fsb: Sandbox, peer: RawGws) -> None:
    fsb.faults.drop_user_events = True
    handle = _long_handle(fsb)
    peer.get_chained_record(handle)
    # up to the DataEnd (not "and one message after it": that would be a user event, never sent here),
    # then long enough for a user event that should not come
    got = peer.collect(lambda ms: any(m.get("data", {}).get("notificationType") == "ChainedRecordsDataEnd"
                                      for m in ms))
    got += peer.collect_for(0.3)
    assert [_kind(m)[0] for m in got] == ["outbound"] * (_chain_len(fsb, handle) + 1)
    assert _kind(got[-1]) == ("outbound", "ChainedRecordsDataEnd", handle)


def test_omit_timeout_advice(fsb: Sandbox) -> None:
    fsb.faults = Faults(omit_timeout_advice=True)
    peer = RawGws(fsb)
    try:
        handshake = peer.handshake()
        connect = [m for m in peer.connect(timeout_ms=0) if m["channel"] == "/meta/connect"][0]
        for reply in (handshake, connect):
            assert reply["successful"] is True
            assert "timeout" not in reply["advice"] and reply["advice"]["reconnect"] == "retry"
        fsb.faults = Faults()
        connect = [m for m in peer.connect(timeout_ms=0) if m["channel"] == "/meta/connect"][0]
        assert connect["advice"]["timeout"] == 30000
    finally:
        peer.close()


def test_duplicate(fsb: Sandbox, peer: RawGws) -> None:
    handle = fsb.record_handles[0]
    normal = _normal_sequence(peer, handle)
    fsb.faults.duplicate = True
    peer.get_chained_record(handle)
    got = peer.collect(lambda m: len(m) >= 2 * len(normal))
    got += peer.collect_for(0.3)
    assert len(got) == 2 * len(normal)
    assert got[0::2] == got[1::2]  # each notification twice in a row
    assert [_kind(m) for m in got[0::2]] == [_kind(m) for m in normal]


def test_reorder(fsb: Sandbox, peer: RawGws) -> None:
    handle = _long_handle(fsb)
    normal = [_kind(m) for m in _normal_sequence(peer, handle)]
    fsb.faults.reorder = True
    peer.get_chained_record(handle)
    got = [_kind(m) for m in peer.collect(lambda m: len(m) >= len(normal))]
    assert Counter(got) == Counter(normal)
    assert got != normal


def test_error_handles(fsb: Sandbox, peer: RawGws) -> None:
    handle = fsb.record_handles[0]
    fsb.faults.error_handles = {handle}
    peer.get_chained_record(handle, referenceId="boom")
    [error] = peer.collect(data_end_seen)
    assert error["data"]["notificationType"] == "Error"
    assert error["data"]["errorCode"] == 104
    assert error["data"]["referenceId"] == "boom"
    other = _normal_sequence(peer, fsb.record_handles[1])
    assert _kind(other[-2])[1] == "ChainedRecordsDataEnd"


def test_faults_set_at_start() -> None:
    with Sandbox(chains=20, faults=Faults(error_handles={1})) as sb:
        p = RawGws(sb)
        p.open()
        p.get_chained_record(1)
        [error] = p.collect(data_end_seen)
        assert error["data"]["errorCode"] == 104
        p.close()


def test_silent_holds_connect_until_switched_off(fsb: Sandbox, peer: RawGws) -> None:
    fsb.faults.silent = True
    result: list[list[Message]] = []
    poll = threading.Thread(target=lambda: result.append(peer.connect(timeout_ms=100, http_timeout=30)))
    poll.start()
    peer.get_chained_record(fsb.record_handles[0])
    poll.join(1.0)
    # Messages are queued and the client asked for 100 ms, yet the connect is still unanswered.
    assert poll.is_alive()
    fsb.faults.silent = False
    poll.join(10)
    assert not poll.is_alive()
    [answer] = result
    assert any(m.get("data", {}).get("notificationType") == "ChainedRecordsDataEnd" for m in answer)


def test_expire_cometd_clients(fsb: Sandbox, peer: RawGws) -> None:
    assert fsb.expire_cometd_clients() >= 1
    resp = peer.bayeux([{"channel": "/meta/connect", "clientId": peer.client_id, "connectionType": "long-polling", "id": "x"}])
    [reply] = resp.json()
    assert reply["error"] == "402::Unknown client"
    assert reply["advice"]["reconnect"] == "handshake"
    peer.open()  # re-handshake + re-subscribe, same HTTP session
    got = _normal_sequence(peer, fsb.record_handles[0])
    assert _kind(got[-2])[1] == "ChainedRecordsDataEnd"


def test_restart_cometd_forgets_subscriptions_and_queues(fsb: Sandbox, peer: RawGws) -> None:
    peer.get_chained_record(fsb.record_handles[0])
    # The notifications are queued for the client; the restart must throw them away.
    time.sleep(0.1)  # let the call queue its notifications (the test holds either way)
    fsb.restart_cometd()
    assert fsb.cometd_client_count() == 0
    peer.handshake()
    peer.connect(timeout_ms=0)
    assert peer.collect_for(0.3) == []  # queue gone
    peer.get_chained_record(fsb.record_handles[0])
    got = peer.collect(lambda m: any(_kind(x)[1] == "ChainedRecordsDataEnd" for x in m))
    assert got and {m["channel"] for m in got} == {"/me/internal"}  # subscription gone


def test_clock_offset_shifts_the_server_timestamps_and_the_date_header(fsb: Sandbox, peer: RawGws) -> None:
    fsb.faults.clock_offset_ms = 90_000
    handle = _long_handle(fsb)
    sent = time.time()
    answer = peer.get_chained_record(handle)
    got = peer.collect(data_end_seen)
    received = time.time()
    generated = [m["data"]["metrics"]["eventProcessing"]["serverGenerationTimestamp"]
                 for m in got if m["channel"] == "/me/internal"]
    assert generated
    # each timestamp is the server's: 90 s past the instant it was generated, which lies in [sent, received]
    assert all(sent * 1000 + 90_000 - 1 <= g <= received * 1000 + 90_000 + 1 for g in generated)
    server_date = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert sent + 89 <= server_date <= received + 91


def test_no_clock_offset_leaves_the_date_header_to_the_real_clock(fsb: Sandbox, peer: RawGws) -> None:
    answer = peer.get_chained_record(fsb.record_handles[0])
    assert abs(email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp() - time.time()) < 5
