"""Item 8: hypothesis over the notification router (``_correlate``) and the frames with arbitrary JSON.

Messages are drawn from arbitrary JSON and from well-formed notifications with fields replaced by
arbitrary JSON, for calls registered under referenceIds the messages may or may not name.  Nothing may
raise, every message fed lands in exactly one of the correlator's buckets, and the frames built from what
came out account for every input (rows + skipped).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwsnb import frames
from gwsnb._engine.correlate import Correlator
from gwsnb.results import CallTimings, ChainedRecordResult, Event

from .conftest import Recorder

REFS = ["r1", "r2", 3]
DEVICE = "/devices/d1"
_RUNS: dict[str, int] = {"examples": 0, "messages": 0}

json_scalar = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=True) | st.text(max_size=8)
json_value = st.recursive(json_scalar, lambda kids: st.lists(kids, max_size=4)
                          | st.dictionaries(st.text(max_size=6), kids, max_size=4), max_leaves=12)
ref = st.sampled_from(REFS + ["other", None]) | json_value
kind = st.sampled_from(["ChainedRecord", "ChainedRecordsDataEnd", "Error", "Unknown"]) | json_value
chain_n = st.integers(0, 4) | json_value


@st.composite
def outbound(draw: Any) -> dict[str, Any]:
    user_data = {"chain_n": draw(chain_n), "chain_id": draw(st.integers(1, 3) | json_value),
                 "GSW_RECORD_HANDLE": draw(st.integers(1, 5) | json_value)}
    record = draw(st.just({"recordHandle": draw(st.integers(1, 5)), "devicePath": DEVICE, "userData": user_data})
                  | json_value)
    data = {"referenceId": draw(ref), "notificationType": draw(kind), "messageType": "OutboundRecordMessage",
            "record": record, "errorCode": draw(json_value)}
    if draw(st.booleans()):
        data.pop(draw(st.sampled_from(sorted(data))))
    return {"channel": draw(st.sampled_from(["/v2/me/outbound", "/me/internal"]) | json_value),
            "data": draw(st.just(data) | json_value)}


@st.composite
def user_event(draw: Any) -> dict[str, Any]:
    user_data = {"GSW_RECORD_HANDLE": draw(st.integers(1, 5) | json_value),
                 "GSW_CHAIN_ID": draw(st.integers(1, 3) | json_value),
                 "GSW_USER_EVENT": draw(kind)}
    data = {"messageType": "DeviceUserEventMessage", "deviceId": draw(st.sampled_from(["d1", "d2"]) | json_value),
            "userData": draw(st.just(user_data) | json_value),
            "metrics": draw(st.just({"eventProcessing": {"serverGenerationTimestamp": draw(json_value),
                                                        "nodeProcessingTimeNanos": draw(json_value),
                                                        "serverProcessingTimeTotalMs": draw(json_value)}})
                            | json_value)}
    return {"channel": "/me/internal", "data": data}


meta = st.builds(lambda c, ok: {"channel": c, "successful": ok},
                 st.sampled_from(["/meta/connect", "/meta/handshake", "/meta/subscribe"]), json_value)
message = outbound() | user_event() | meta | st.dictionaries(st.text(max_size=6), json_value, max_size=4)


def _feed(batches: list[list[dict[str, Any]]]) -> tuple[Correlator, list[ChainedRecordResult], list[Event]]:
    loop = asyncio.new_event_loop()
    try:
        correlator = Correlator(settle=0.0)
        results = []
        futures: list[asyncio.Future[ChainedRecordResult]] = []
        for i, reference in enumerate(REFS):
            result = ChainedRecordResult(reference_id=str(reference), record_handle=i + 1, campaign_name="C",
                                         application_id=1, device_path=DEVICE, timings=CallTimings(sent=0.0))
            futures.append(loop.create_future())
            correlator.register(reference, i + 1, DEVICE, result, futures[-1])
            results.append(result)
        events: list[Event] = []
        for n, batch in enumerate(batches):
            chunk = [Event(float(n), m) for m in batch]
            events.extend(chunk)
            correlator.feed(chunk)
        return correlator, results, events
    finally:
        for future in futures:  # an Error notification's exception, retrieved: no "never retrieved" noise
            if future.done() and not future.cancelled():
                future.exception()
        loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(message, max_size=8), max_size=6))
def test_router_never_raises_and_counts_add_up(batches: list[list[dict[str, Any]]]) -> None:
    correlator, results, events = _feed(batches)
    counts = correlator.counts
    assert counts["fed"] == len(events)
    assert counts["meta"] + counts["malformed"] + counts["routed"] + counts["paired"] + counts["unmatched"] \
        == counts["fed"]
    assert counts["unmatched"] == correlator.unmatched >= 0
    routed_into_results = sum(len(r.events) for r in results)
    assert routed_into_results == counts["routed"] + counts["paired"]
    for result in results:
        # a record is never reported twice within a call
        assert all(result.records.count(r) == 1 for r in result.records)
        assert all(isinstance(r, dict) for r in result.records)
    _RUNS["examples"] += 1
    _RUNS["messages"] += len(events)


@pytest.mark.filterwarnings("ignore::gwsnb.frames.FrameWarning")  # wrong-typed values: warned, then missing
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(message, max_size=8), max_size=4), st.lists(json_value, max_size=5))
def test_frames_account_for_every_input(batches: list[list[dict[str, Any]]], junk: list[Any]) -> None:
    _, results, events = _feed(batches)
    items: list[Any] = [*events, *junk]
    ev = frames.events_frame(items)
    assert isinstance(ev, pd.DataFrame)
    assert len(ev) + ev.attrs.get("skipped", 0) == len(items)
    metrics = frames.metrics_frame([*results, *items])
    assert isinstance(metrics, pd.DataFrame)
    records = frames.records_frame([*results, *items])
    assert isinstance(records, pd.DataFrame)
    assert len(records) >= sum(len(r.records) for r in results)
    calls = frames.calls_frame(results)
    assert len(calls) == len(results)
    for frame in (ev, metrics, records, calls):
        frame.to_csv()


def test_fuzz_summary(reliability: Recorder) -> None:
    """Runs after the properties (file order): puts what they fed into the results table."""
    reliability.record("fuzzed notification batches (hypothesis): router", tried=_RUNS["examples"],
                       survived=_RUNS["examples"], note=f"{_RUNS['messages']} messages")
    assert _RUNS["examples"] > 0
