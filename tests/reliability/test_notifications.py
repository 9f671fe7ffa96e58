"""Item 4: duplicated, reordered, malformed, unknown-type and foreign-session notifications.

Each case runs a batch of real GetChainedRecord calls against the sandbox with the fault switched on and
checks every result against the calling list: nothing lost, nothing reported twice, no wrong record; the
odd messages stay in the event log and are counted by the correlator, and its counts add up.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import gwsnb
from gwsnb._wire.hygiene import INVALID_MESSAGE_KEY
from gwsnb.frames import FrameWarning
from gwsnb.sandbox import Faults, Sandbox
from tests.chains import ChainIndex, record_keys

from .conftest import Recorder

N_CALLS = 30
MALFORMED_PER_CALL = 9  # what Faults.malformed queues per call (see the sandbox's _ocs._malformed)

CASES: dict[str, dict[str, Any]] = {
    "duplicated notifications": {"duplicate": True},
    "reordered notifications": {"reorder": True},
    "malformed notifications": {"malformed": True},
    "unknown notification types": {"unknown_types": True},
    "all of the above at once": {"duplicate": True, "reorder": True, "malformed": True, "unknown_types": True},
}


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        yield c


def _handles(sb: Sandbox, n: int, offset: int = 0) -> list[int]:
    df = sb.calling_list
    heads = df.groupby("chain_id")["record_handle"].min().sort_values()
    return [int(h) for h in heads.iloc[offset:offset + n]]


def score(sb: Sandbox, handles: list[int], batch: Any) -> tuple[int, int, int, list[str]]:
    """(survived, lost, duplicated, problems) of a batch against the calling list."""
    by_handle: dict[int, list[Any]] = {}
    for result in batch.results:
        by_handle.setdefault(result.record_handle, []).append(result)
    survived = lost = duplicated = 0
    problems: list[str] = []
    for handle in handles:
        results = by_handle.get(handle, [])
        if len(results) > 1:
            duplicated += 1
        if not results:
            lost += 1
            problems.append(f"{handle}: no result ({[str(f) for f in batch.failures if f.record_handle == handle]})")
            continue
        got = record_keys(results[0].records)
        if len(set(got)) != len(got):
            duplicated += 1
            problems.append(f"{handle}: a record twice {got}")
        elif got != ChainIndex(sb).keys(handle):
            lost += 1
            problems.append(f"{handle}: wrong records {got} != {ChainIndex(sb).keys(handle)}")
        else:
            survived += 1
    return survived, lost, duplicated, problems


def _counts_add_up(c: gwsnb.GwsClient) -> dict[str, int]:
    async def snapshot() -> tuple[dict[str, int], int, int]:
        # on the client's loop thread, where messages are logged and routed in one step: a /meta/connect
        # answer arriving while the test reads cannot make the figures disagree
        return dict(c._correlator.counts), c.event_log.total, c.unmatched_events

    assert c._loop is not None
    counts, logged, unmatched = c._loop.run(snapshot(), 5.0)
    parts = counts["meta"] + counts["malformed"] + counts["routed"] + counts["paired"] + counts["unmatched"]
    assert parts == counts["fed"], counts
    assert counts["unmatched"] == unmatched
    # every message received went to the event log and to the correlator, once
    assert counts["fed"] == logged
    return counts


@pytest.mark.parametrize("name", list(CASES))
def test_odd_notifications_are_tolerated(name: str, sb: Sandbox, client: gwsnb.GwsClient, reliability: Recorder,
                                         caplog: pytest.LogCaptureFixture) -> None:
    handles = _handles(sb, N_CALLS, offset=N_CALLS * list(CASES).index(name))
    sb.faults = Faults(**CASES[name])
    with caplog.at_level(logging.WARNING):
        batch = client.get_chained_records(handles, campaign_name=sb.campaign_name,
                                           application_id=sb.application_id, concurrency=8, progress=False,
                                           retries=0, timeout=10.0)
    survived, lost, duplicated, problems = score(sb, handles, batch)
    reliability.record(name, tried=len(handles), survived=survived, lost=lost, duplicated=duplicated)
    assert problems == []
    assert survived == len(handles)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes]
    counts = _counts_add_up(client)
    faults = CASES[name]
    copies = 2 if faults.get("duplicate") else 1
    if faults.get("duplicate"):
        assert counts["duplicate"] > 0
    if faults.get("malformed"):
        assert counts["malformed"] == MALFORMED_PER_CALL * len(handles) * copies
        invalid = [e for e in client.event_log if INVALID_MESSAGE_KEY in e.message]
        no_data = [e for e in client.event_log if e.channel == "/v2/me/outbound" and "data" not in e.message]
        assert len(invalid) == len(no_data) == len(handles) * copies
        assert client._cometd is not None and client._cometd.invalid_messages == 2 * len(handles) * copies
    else:
        assert counts["malformed"] == 0
    if faults.get("unknown_types"):
        assert counts["unknown_type"] == len(handles) * copies
        # the unknown /me/internal message pairs with nothing: counted, kept
        assert counts["unmatched"] >= len(handles)
    # frames accept what the odd deliveries left in the results
    frame = batch.records_frame()
    assert len(frame) == sum(len(ChainIndex(sb).keys(h)) for h in handles)
    batch.metrics_frame()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = client.events_frame()
    assert len(events) > 0
    # malformed payloads are reported as FrameWarnings (field and count), never raised
    assert all(issubclass(w.category, FrameWarning) for w in caught), [str(w.message) for w in caught]


def test_foreign_session_notifications(sb: Sandbox, reliability: Recorder) -> None:
    """Two HTTP sessions; the server leaks every notification of one to the other: neither is confused."""
    handles_a = _handles(sb, N_CALLS, offset=200)
    handles_b = _handles(sb, N_CALLS, offset=240)
    sb.faults = Faults(foreign=True)
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as a, \
            gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as b:
        batch_a = a.get_chained_records(handles_a, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                        concurrency=8, progress=False, retries=0, keep_events=True)
        # b sees all of a's notifications and has no call for them; its own long-poll may still be carrying
        # the last of them when a's batch returns, so wait (bounded) for the count to settle
        leaked_to_b = sum(2 * len(ChainIndex(sb).keys(h)) + 2 for h in handles_a)
        deadline = time.monotonic() + 5.0
        while b.unmatched_events < leaked_to_b and time.monotonic() < deadline:
            time.sleep(0.02)
        foreign_in_b = b.unmatched_events
        batch_b = b.get_chained_records(handles_b, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                        concurrency=8, progress=False, retries=0, keep_events=True)
        results = [score(sb, handles_a, batch_a), score(sb, handles_b, batch_b)]
        survived = sum(r[0] for r in results)
        lost = sum(r[1] for r in results)
        duplicated = sum(r[2] for r in results)
        reliability.record("foreign-session notifications", tried=len(handles_a) + len(handles_b),
                           survived=survived, lost=lost, duplicated=duplicated)
        assert results[0][3] == [] and results[1][3] == []
        assert foreign_in_b >= leaked_to_b
        leaked_to_a = sum(2 * len(ChainIndex(sb).keys(h)) + 2 for h in handles_b)
        deadline = time.monotonic() + 5.0
        while a.unmatched_events < leaked_to_a and time.monotonic() < deadline:
            time.sleep(0.02)
        assert a.unmatched_events >= leaked_to_a
        # no result holds an event of the other session's calls
        for batch, other in ((batch_a, batch_b), (batch_b, batch_a)):
            theirs = {r.reference_id for r in other.results}
            for result in batch.results:
                assert {str(e.data.get("referenceId")) for e in result.events
                        if "referenceId" in e.data}.isdisjoint(theirs)
        _counts_add_up(a)
        _counts_add_up(b)
