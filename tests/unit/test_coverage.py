"""The bookkeeping of "each chain once" (gwsnb/_engine/coverage.py) on its own: the lane order, which
handle waits for which, and what a call's chain covers.  End to end over sockets: tests/bulk/test_coverage.py."""

from __future__ import annotations

import asyncio
from typing import Any

from gwsnb._engine.coverage import ChainCoverage, lane_count, laned, record_handles


def test_lanes_visit_every_position_once_one_lane_at_a_time() -> None:
    assert list(laned(7, 3)) == [0, 3, 5, 1, 4, 6, 2]
    for n in range(40):
        for lanes in range(1, 9):
            assert sorted(laned(n, lanes)) == list(range(n))
    assert lane_count(1_000_000, 16) == 64  # four lanes per call in flight
    assert lane_count(60, 16) == 3  # short lists: lanes longer than two windows
    assert lane_count(5, 16) == 1


def test_record_handles_read_the_record_or_its_user_data() -> None:
    records: list[Any] = [{"recordHandle": 7}, {"userData": {"GSW_RECORD_HANDLE": "8"}}, {"recordHandle": None},
                          "junk", {"userData": {"GSW_RECORD_HANDLE": "x"}}]
    assert list(record_handles(records)) == [7, 8]


def _records(*handles: int) -> list[dict[str, Any]]:
    return [{"recordHandle": h} for h in handles]


async def _take_all(coverage: ChainCoverage) -> list[int]:
    """Every handle left, each call answering (with its own record only) before the next is taken."""
    taken = []
    while (handle := await asyncio.wait_for(coverage.take(), 1)) is not None:
        taken.append(handle)
        coverage.finished(handle, _records(handle))
    return taken


def test_a_successful_chain_covers_pending_and_in_flight_handles() -> None:
    async def scenario() -> None:
        coverage = ChainCoverage([1, 2, 3, 40], concurrency=1)
        assert await coverage.take() == 1
        # 2 and 3 are within the window of 1, in flight: they wait; 40 is far
        assert await coverage.take() == 40
        waiter = asyncio.ensure_future(coverage.take())
        await asyncio.sleep(0)
        assert not waiter.done()
        assert coverage.finished(40, _records(40, 3)) == (True, [3])  # 3 covered while pending
        await asyncio.sleep(0)
        assert not waiter.done()  # 2 and 3 still wait for 1 (3 is covered now)
        assert coverage.finished(1, _records(1)) == (True, [])
        assert await waiter == 2
        assert await coverage.take() is None
        assert coverage.finished(2, _records(2, 1, 3)) == (True, [])  # 1 finished, 3 covered: nothing new
        assert coverage.covered(3) and not coverage.covered(2)

    asyncio.run(scenario())


def test_a_failed_call_covers_nothing_and_a_covered_call_is_dropped() -> None:
    async def scenario() -> None:
        coverage = ChainCoverage(list(range(100, 140)), concurrency=1)  # two lanes: 100..119, 120..139
        assert [await coverage.take(), await coverage.take()] == [100, 120]
        assert coverage.finished(100, None) == (True, [])  # failed: it covers nothing
        assert await coverage.take() == 101
        # 120's chain holds 101 (in flight) and 121 (pending): both covered at once
        assert coverage.finished(120, _records(120, 101, 121)) == (True, [101, 121])
        # 101's own answer comes: dropped (its records are 120's), and the failed 100 stays uncovered
        assert coverage.finished(101, _records(101, 100)) == (False, [])
        assert coverage.redundant == 1 and not coverage.covered(100) and coverage.covered(101)
        assert await _take_all(coverage) == [h for pair in zip(range(102, 120), range(122, 140), strict=True)
                                             for h in pair]

    asyncio.run(scenario())
