"""Issue 20 item 1: the event log keeps the newest raw messages within a byte budget during a big bulk run.

A 20,000-handle run overflows a 2 MiB budget many times over: the JSON text the log keeps (measured by
reading it back) stays within the budget and the memory it occupies (compressed) is far below it, what it
dropped is counted (kept + dropped = every message received), and ``events_frame()`` shows the newest
messages, payloads included.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

N = 20_000
BUDGET = 2 * 2**20


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    with Sandbox(chains=8_800, seed=23) as sb:  # about 20,200 records
        yield sb


@pytest.mark.slow
@pytest.mark.main_only
def test_a_20000_handle_run_keeps_the_log_within_its_budget(big: Sandbox) -> None:
    handles = [int(h) for h in big.calling_list["record_handle"]][:N]
    assert len(handles) == N
    with gwsnb.connect(big.url, big.username, big.password, timeout=20.0, event_log_bytes=BUDGET) as c:
        batch = c.get_chained_records(handles, campaign_name=big.campaign_name,
                                      application_id=big.application_id, concurrency=64, progress=False)
        assert batch.ok, batch.summary()
        log = c.event_log
        # the JSON text kept, measured: the messages read back, re-encoded compactly, are within the budget
        events = c.events_frame()
        text = sum(int(n) for n in events["size_bytes"])
        assert 0 < text <= log.nbytes <= BUDGET
        # and what it really occupies is far less: the text is held compressed
        assert 0 < log.held_bytes() < BUDGET / 4
        assert log.dropped > 0 and len(log) + log.dropped == log.total
        # every routed or paired notification of the run went through the log: far more than it keeps
        assert log.total >= 2 * N
        assert len(events) == len(log)
        outbound = events[events["channel"] == "/v2/me/outbound"]
        # the newest messages: the first ones (the handshake) are gone, the last call answered is there,
        # with its payloads
        assert "/meta/handshake" not in set(events["channel"])
        refs = {r.reference_id: r for r in batch.results}
        newest = outbound.iloc[-1]
        assert newest["reference_id"] in refs
        mine = outbound[outbound["reference_id"] == newest["reference_id"]]
        assert all(isinstance(p, dict) and isinstance(p["data"]["record"], dict) for p in mine["payload"])
        assert "ChainedRecordsDataEnd" in set(mine["notification_type"])
        assert events["received_at"].is_monotonic_increasing
