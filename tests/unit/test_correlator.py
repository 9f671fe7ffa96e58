"""The correlator on its own, fed hand-made messages: pairing, settle, the DataEnd grace, held user events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gwsnb._engine.correlate import _ORPHANS, Correlator
from gwsnb.errors import ChainedRecordError, InvalidParameterError
from gwsnb.results import CallTimings, ChainedRecordResult, Event

DEVICE = "dev-1"


def _event(message: dict[str, Any]) -> Event:
    return Event(time.time(), message)


def outbound(ref: str, kind: str, handle: int, chain_n: int | None = None, chain_id: int = 5,
             **extra: Any) -> Event:
    record: dict[str, Any] = {"recordHandle": handle, "devicePath": f"/devices/{DEVICE}",
                              "userData": {"chain_id": chain_id}}
    if chain_n is not None:
        record["userData"]["chain_n"] = chain_n
    data = {"messageType": "OutboundRecordMessage", "notificationType": kind, "referenceId": ref,
            "record": record, **extra}
    return _event({"channel": "/v2/me/outbound", "data": data})


def record(ref: str, handle: int, chain_n: int, chain_id: int = 5) -> Event:
    return outbound(ref, "ChainedRecord", handle, chain_n, chain_id)


def data_end(ref: str, handle: int, chain_id: int = 5) -> Event:
    return outbound(ref, "ChainedRecordsDataEnd", handle, chain_id=chain_id)


def user_event(kind: str, handle: int, chain_id: int = 5, device: str = DEVICE) -> Event:
    return _event({"channel": "/me/internal", "data": {
        "messageType": "DeviceUserEventMessage", "deviceId": device,
        "userData": {"GSW_USER_EVENT": kind, "GSW_RECORD_HANDLE": handle, "GSW_CHAIN_ID": chain_id}}})


def register(c: Correlator, ref: str, handle: int) -> asyncio.Future[ChainedRecordResult]:
    future: asyncio.Future[ChainedRecordResult] = asyncio.get_running_loop().create_future()
    result = ChainedRecordResult(ref, handle, "C", 1, f"/devices/{DEVICE}", CallTimings(sent=time.time()))
    c.register(ref, handle, f"/devices/{DEVICE}", result, future)
    return future


def balanced(c: Correlator) -> bool:
    counts = c.counts
    return counts["fed"] == sum(counts[k] for k in ("meta", "malformed", "routed", "paired", "unmatched"))


async def test_records_and_user_events_pair_in_one_batch() -> None:
    c = Correlator()
    future = register(c, "r", 10)
    c.feed([record("r", 10, 0), user_event("ChainedRecord", 10), record("r", 11, 1),
            user_event("ChainedRecord", 11), data_end("r", 10), user_event("ChainedRecordsDataEnd", 10)])
    assert future.done()
    result = future.result()
    assert [r["recordHandle"] for r in result.records] == [10, 11]
    assert len(result.user_events) == 3 and len(result.events) == 6
    assert c.counts["paired"] == 3 and c.counts["routed"] == 3 and c.unmatched == 0 and balanced(c)


async def test_pairing_takes_the_oldest_matching_expectation_of_the_right_device_and_type() -> None:
    c = Correlator(settle=0, end_event_grace=0)
    first, second = register(c, "a", 10), register(c, "b", 10)  # the same handle asked twice
    c.feed([record("a", 10, 0), record("b", 10, 0)])
    c.feed([user_event("ChainedRecord", 10, device="other-device"), user_event("ChainedRecordsDataEnd", 10),
            user_event("ChainedRecord", 10)])
    c.feed([data_end("a", 10), data_end("b", 10)])
    a, b = first.result(), second.result()
    # the user event of another device paired nothing; the DataEnd one, early, was held until a's DataEnd
    assert c.unmatched == 1 and c.held == 1
    # the ChainedRecord one went to the oldest expectation: call a's
    kinds = [e.data["userData"]["GSW_USER_EVENT"] for e in a.user_events]
    assert kinds == ["ChainedRecord", "ChainedRecordsDataEnd"]
    assert b.user_events == [] and balanced(c)


async def test_a_user_event_before_its_outbound_message_is_held_then_paired() -> None:
    c = Correlator(settle=0.05)
    future = register(c, "r", 10)
    c.feed([user_event("ChainedRecord", 10)])
    assert c.held == 1 and c.unmatched == 1
    c.feed([record("r", 10, 0), data_end("r", 10), user_event("ChainedRecordsDataEnd", 10)])
    result = await asyncio.wait_for(future, 1)
    assert c.held == 0 and c.unmatched == 0 and c.reorder_seen
    assert len(result.user_events) == 2 and balanced(c)


async def test_held_user_events_are_bounded() -> None:
    c = Correlator()
    c.feed([user_event("ChainedRecord", 100_000 + i) for i in range(_ORPHANS + 50)])
    assert c.held == _ORPHANS and c.unmatched == _ORPHANS + 50  # the oldest were forgotten, all counted
    # the oldest held one is gone: its outbound message finds nothing to pair
    future = register(c, "r", 100_000)
    c.feed([record("r", 100_000, 0, chain_id=99)])
    assert future.get_loop() is asyncio.get_running_loop() and c.held == _ORPHANS


async def test_data_end_before_any_record_settles_and_completes_when_the_record_comes() -> None:
    c = Correlator(settle=5.0, end_event_grace=0)
    future = register(c, "r", 10)
    c.feed([data_end("r", 10)])
    assert not future.done()  # no record yet: settling
    c.feed([record("r", 10, 0)])
    assert future.done()  # complete now: no need to wait the 5 s
    assert [r["userData"]["chain_n"] for r in future.result().records] == [0]


async def test_a_gap_filled_late_still_waits_settle_because_the_delivery_is_reordered() -> None:
    c = Correlator(settle=0.2, end_event_grace=0)
    future = register(c, "r", 10)
    c.feed([record("r", 10, 0), record("r", 12, 2), data_end("r", 10)])
    assert not future.done()  # chain_n 1 missing: settling
    c.feed([record("r", 11, 1)])
    assert not future.done() and c.reorder_seen  # a record after a higher one: more may be late
    result = await asyncio.wait_for(future, 2)
    assert [r["userData"]["chain_n"] for r in result.records] == [0, 1, 2]


async def test_settle_runs_out_and_the_call_completes_with_what_arrived() -> None:
    c = Correlator(settle=0.05, end_event_grace=0)
    future = register(c, "r", 10)
    c.feed([record("r", 10, 0), record("r", 12, 2), data_end("r", 10)])
    result = await asyncio.wait_for(future, 1)
    assert [r["userData"]["chain_n"] for r in result.records] == [0, 2]


async def test_out_of_order_records_are_sorted_and_latch_reorder() -> None:
    c = Correlator(settle=0.01, end_event_grace=0)
    future = register(c, "r", 10)
    c.feed([record("r", 11, 1), record("r", 10, 0), record("r", 10, 0), data_end("r", 10)])
    result = await asyncio.wait_for(future, 1)
    assert [r["userData"]["chain_n"] for r in result.records] == [0, 1]
    assert c.reorder_seen and c.counts["duplicate"] == 1 and len(result.events) == 4


async def test_data_end_grace_waits_for_its_user_event() -> None:
    c = Correlator(settle=0, end_event_grace=5.0)
    future = register(c, "r", 10)
    c.feed([record("r", 10, 0), data_end("r", 10)])
    assert not future.done()  # DataEnd's user event is announced, not yet here
    c.feed([user_event("ChainedRecordsDataEnd", 10)])
    assert future.done() and len(future.result().user_events) == 1


async def test_a_grace_that_runs_out_stops_the_waiting_until_such_events_come_back() -> None:
    c = Correlator(settle=0, end_event_grace=0.05)
    first = register(c, "a", 10)
    c.feed([record("a", 10, 0), data_end("a", 10)])
    await asyncio.wait_for(first, 1)
    assert not c.end_events_seen
    second = register(c, "b", 20)
    c.feed([record("b", 20, 0, chain_id=6), data_end("b", 20, chain_id=6)])
    assert second.done()  # no grace any more
    c.feed([user_event("ChainedRecordsDataEnd", 20, chain_id=6)])  # late: still paired to the lingering call
    assert c.end_events_seen and len(second.result().user_events) == 1


async def test_error_notification_fails_the_call() -> None:
    c = Correlator()
    future = register(c, "r", 10)
    c.feed([outbound("r", "Error", 10, errorCode=104, errorMessage="no such record")])
    with pytest.raises(ChainedRecordError) as info:
        future.result()
    assert info.value.error_code == 104 and info.value.result is not None


async def test_unmatched_malformed_and_meta_messages_are_counted() -> None:
    c = Correlator()
    c.feed([
        _event({"channel": "/meta/connect", "successful": True}),
        _event({"data": {}}),  # no channel
        _event({"channel": "/v2/me/outbound", "data": "text"}),
        _event({"channel": "/v2/me/outbound", "data": {"referenceId": ["x"], "notificationType": "ChainedRecord"}}),
        _event({"channel": "/me/internal", "data": {"messageType": "DeviceUserEventMessage", "userData": 3}}),
        record("nobody", 1, 0),
    ])
    assert c.counts["meta"] == 1 and c.counts["malformed"] == 4 and c.unmatched == 1 and balanced(c)


async def test_duplicate_reference_id_is_refused() -> None:
    c = Correlator()
    register(c, "r", 10)
    with pytest.raises(InvalidParameterError):
        register(c, "r", 11)


async def test_pairing_cost_does_not_grow_with_calls_in_flight() -> None:
    """10,000 calls in flight, each with an expectation: a user event still looks at its own keys only."""
    c = Correlator(settle=0, end_event_grace=0)
    for i in range(10_000):
        register(c, f"r{i}", 10 + i)
    c.feed([record(f"r{i}", 10 + i, 0, chain_id=1_000_000 + i) for i in range(10_000)])
    buckets = c._expectations._buckets
    assert max(len(b) for b in buckets.values()) == 1
    c.feed([user_event("ChainedRecord", 10 + 9_999, chain_id=1_000_000 + 9_999)])
    assert c.counts["paired"] == 1 and balanced(c)


async def test_messages_of_a_call_given_up_before_its_end_prove_no_reordering() -> None:
    """A cancelled or timed-out call's remaining messages arrive after it was discarded: that is not a
    reordered delivery, and must not make every later call wait ``settle`` (it once did, for good)."""
    c = Correlator()
    future: asyncio.Future[ChainedRecordResult] = asyncio.get_running_loop().create_future()
    result = ChainedRecordResult("r1", 7, "C", 1, f"/devices/{DEVICE}", CallTimings(sent=time.time()))
    call = c.register("r1", 7, f"/devices/{DEVICE}", result, future)
    c.feed([record("r1", 7, 0)])
    future.cancel()
    c.discard(call)  # given up before DataEnd
    c.feed([record("r1", 7, 1), data_end("r1", 7)])
    assert not c.reorder_seen and c.unmatched == 2


async def test_a_message_after_a_finished_call_still_latches_reorder() -> None:
    c = Correlator()
    future: asyncio.Future[ChainedRecordResult] = asyncio.get_running_loop().create_future()
    result = ChainedRecordResult("r1", 7, "C", 1, f"/devices/{DEVICE}", CallTimings(sent=time.time()))
    call = c.register("r1", 7, f"/devices/{DEVICE}", result, future)
    c.feed([record("r1", 7, 0), data_end("r1", 7)])
    await asyncio.wait_for(future, 2)
    c.discard(call)
    c.feed([record("r1", 7, 1)])  # a record after DataEnd: GWS delivered out of order
    assert c.reorder_seen
