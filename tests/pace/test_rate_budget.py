"""The rate cap (counted on the sandbox's side) and the budget: exactly ``max_calls`` calls, a clean stop, and
a streamed run that resumes where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import all_handles, sent_times, target


@pytest.mark.slow
@pytest.mark.main_only
def test_rate_holds_within_5_percent_over_30_s(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    """Blessed by issue 24 (30 s): 1,500 calls at 50/s, every handle, timed by the sandbox."""
    rate, calls = 50.0, 1500
    batch = client.get_chained_records(all_handles(sb), **target(sb), rate=rate, max_calls=calls,
                                       every_handle=True, progress=False)
    times = sent_times(sb)
    assert len(times) == calls == batch.calls_sent
    measured = (len(times) - 1) / (times[-1] - times[0])
    assert abs(measured - rate) / rate <= 0.05, measured
    # and no second of the run held much more than the rate (the limiter's bucket is 0.1 s of calls; the
    # sandbox stamps arrivals, which a loaded machine bunches a little)
    start = times[0]
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t - start)] = per_second.get(int(t - start), 0) + 1
    assert max(per_second.values()) <= rate * 1.2, per_second


def test_budget_stops_an_in_memory_batch_at_exactly_max_calls(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = all_handles(sb)
    batch = client.get_chained_records(handles, **target(sb), max_calls=40, progress=False)
    assert sb.stats()["requests"] == 40 == batch.calls_sent
    assert batch.stopped_by == "max_calls" and not batch.interrupted
    assert batch.called == 40 and not batch.failures
    assert batch.skipped and len(batch.results) + len(batch.covered) + len(batch.skipped) == len(handles)
    assert "stopped by max_calls after 40 call(s)" in batch.summary()
    assert "stopped by max_calls" in batch._repr_html_()


def test_budget_counts_retries(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    """Retries are calls the server receives: they spend the budget too."""
    sb.fail_calls_for(60, "timeout")  # the sandbox drops every call's notifications
    try:
        batch = client.get_chained_records(all_handles(sb)[:3], **target(sb), max_calls=5, retries=1, timeout=0.2,
                                           concurrency=3, progress=False)
    finally:
        sb.faults.fail_calls = None
    assert sb.stats()["requests"] == 5 == batch.calls_sent
    assert batch.stopped_by == "max_calls"  # 3 first attempts and 2 retries: the third retry was not sent


def test_budget_then_resume_a_streamed_run(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    handles = all_handles(sb)
    out = tmp_path / "run"
    first = client.get_chained_records(handles, **target(sb), out=out, max_calls=60, progress=False)
    first_calls = [entry["handle"] for entry in sb.request_log()]
    assert len(first_calls) == 60 and first.stopped_by == "max_calls" and first.calls_sent == 60
    assert first.remaining > 0 and "stopped by max_calls" in first.summary()
    sb.reset_stats()
    second = client.get_chained_records(handles, **target(sb), out=out, progress=False)
    second_calls = [entry["handle"] for entry in sb.request_log()]
    assert second.stopped_by is None and second.remaining == 0 and second.failed == 0
    assert second.done == len(handles)
    assert not set(first_calls) & set(second_calls)  # the resumed run went on where the first stopped
    calls = second.calls_frame(columns=["record_handle", "status"])
    assert calls["record_handle"].is_unique and len(calls) == len(handles)
