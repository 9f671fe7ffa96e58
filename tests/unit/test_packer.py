"""The result packer (gwsnb.batch.ResultPacker): a sealed chunk (msgpack, or a pickle for what msgpack
cannot hold) unpacks to results equal to the ones packed, field by field."""

from __future__ import annotations

import math

from gwsnb.batch import CHUNK_RESULTS, ResultPacker
from gwsnb.results import CallTimings, ChainedRecordResult, Event


def result(handle: int, big: bool = False) -> ChainedRecordResult:
    records = [{"recordHandle": handle, "chainId": 2**40 + handle, "phone": "555-0100", "ok": True,
                "missing": None, "score": 0.25, "nested": {"a": [1, "b", {"c": None}]},
                "userData": {"GSW_RECORD_HANDLE": handle, "x": 2**70 if big else 1}}]
    user_events = [Event(1_700_000_000.5 + handle, {"channel": "/me/internal", "data": {"userData": {"n": handle}}})]
    return ChainedRecordResult(reference_id=f"ref-{handle}", record_handle=handle, campaign_name="Campaign1",
                               application_id=134, device_path="/devices/d1",
                               timings=CallTimings(sent=1.0 + handle, http_answered=2.0, first_event=None,
                                                   data_end=math.inf),
                               records=records, end={"notificationType": "ChainedRecordsDataEnd"}, events=[],
                               user_events=user_events, attempts=2)


def test_sealed_chunks_unpack_to_what_was_packed() -> None:
    packer = ResultPacker()
    originals = [result(h) for h in range(1, CHUNK_RESULTS + 1)]  # one full chunk (msgpack) ...
    originals += [result(h, big=True) for h in range(1000, 1000 + CHUNK_RESULTS)]  # ... one a pickle
    originals += [result(h) for h in range(5000, 5010)]  # and an open chunk
    packed = [packer.pack(r) for r in originals]
    assert packed[0].chunk.blob is not None and not packed[0].chunk.pickled
    assert packed[CHUNK_RESULTS].chunk.blob is not None and packed[CHUNK_RESULTS].chunk.pickled
    assert packed[-1].chunk.items is not None
    for original, again in zip(originals, packer.unpack_many(packed), strict=True):
        assert again.records == original.records and again.end == original.end
        assert again.user_events == original.user_events and again.timings == original.timings
        assert type(again.records[0]["userData"]["x"]) is int
        assert again.reference_id == original.reference_id and again.record_handle == original.record_handle
        assert again.attempts == 2
