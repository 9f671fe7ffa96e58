"""Working windows against the sandbox: no call outside the window (the sandbox's request log), the run pauses
at the window's end and goes on at the next opening, the progress bar says it waits, and a cancellation
during the wait stops the run cleanly.

The issue's test has a window opening 5 s after the start and closing 10 s later; here two short windows of
the same day (opening 1 to 2 s after the start for 2 s, then again 2 s later for 2 s; 20 calls/s and a
budget of 60 calls that needs both) show the pause and the next opening in one run of about 6 s.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import all_handles, sent_times, target

#: a call admitted just before a window's end reaches the sandbox a little later (more on a loaded machine)
ARRIVAL_SLACK_S = 1.0


def _hms(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


class Bar:
    """A tqdm-like progress object that keeps what it was told."""

    def __init__(self) -> None:
        self.descriptions: list[str] = []
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def set_description(self, text: str) -> None:
        self.descriptions.append(text)


@pytest.mark.slow
def test_no_call_outside_the_windows_and_the_run_goes_on_at_the_next(client: gwsnb.GwsClient, sb: Sandbox,
                                                                     tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    start = math.ceil(time.time()) + 1
    first, second = (start, start + 2), (start + 4, start + 6)
    pace = gwsnb.Pace(window=f"{_hms(first[0])}-{_hms(first[1])},{_hms(second[0])}-{_hms(second[1])}", tz="UTC",
                      rate=20, max_calls=60)
    bar = Bar()
    run = client.get_chained_records(all_handles(sb), **target(sb), pace=pace, every_handle=True, progress=bar,
                                     out=tmp_path / "run")
    times = sent_times(sb)
    assert len(times) == 60 == run.calls_sent
    inside_first = [t for t in times if first[0] <= t < first[1] + ARRIVAL_SLACK_S]
    inside_second = [t for t in times if second[0] <= t < second[1] + ARRIVAL_SLACK_S]
    assert len(inside_first) + len(inside_second) == len(times), [t - start for t in times]
    assert inside_first and inside_second  # paused at the first window's end, went on at the second's start
    assert min(inside_second) - max(inside_first) >= 2 - ARRIVAL_SLACK_S
    assert any(d.startswith("GetChainedRecord (waiting for the window ") for d in bar.descriptions), bar.descriptions
    assert run.called == 60 and run.failed == 0  # the streamed run kept what it did across the pause


def test_cancel_during_the_wait_stops_cleanly_and_sends_nothing(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    now = time.time()
    pace = gwsnb.Pace(window=f"{_hms(now + 3600)}-{_hms(now + 7200)}", tz="UTC")
    bar = Bar()

    async def scenario() -> gwsnb.ChainedRecordBatch:
        task = asyncio.ensure_future(client.get_chained_records_async(all_handles(sb)[:50], **target(sb), pace=pace,
                                                                      progress=bar))
        deadline = time.monotonic() + 10
        while not any("waiting for the window" in d for d in bar.descriptions):
            assert time.monotonic() < deadline, "the run never said it waits for its window"
            await asyncio.sleep(0.05)
        assert "opens in 59 min" in bar.descriptions[-1] or "opens in 1 h 0 min" in bar.descriptions[-1]
        task.cancel()
        try:
            await task
        except asyncio.CancelledError as exc:
            batch = getattr(exc, "batch", None) or getattr(exc.__context__, "batch", None)
            assert batch is not None
            return batch
        raise AssertionError("the run was not cancelled")

    batch = asyncio.run(scenario())
    assert batch.interrupted and len(batch.skipped) == 50 and batch.called == 0
    assert sb.stats()["requests"] == 0


class InterruptingBar(Bar):
    """Ctrl-C as soon as the bar says the run waits for its window (the blocking API's interrupt path)."""

    def set_description(self, text: str) -> None:
        super().set_description(text)
        if "waiting for the window" in text:
            raise KeyboardInterrupt


def test_ctrl_c_during_the_wait_keeps_a_streamed_run_resumable(client: gwsnb.GwsClient, sb: Sandbox,
                                                               tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    now = time.time()
    pace = gwsnb.Pace(window=f"{_hms(now + 3600)}-{_hms(now + 7200)}", tz="UTC")
    handles = all_handles(sb)[:40]
    run = client.get_chained_records(handles, **target(sb), pace=pace, progress=InterruptingBar(),
                                     out=tmp_path / "run")
    assert run.interrupted and run.remaining == len(handles) and run.called == 0
    assert sb.stats()["requests"] == 0
    resumed = client.get_chained_records(handles, **target(sb), out=tmp_path / "run", progress=False)
    assert resumed.remaining == 0 and resumed.failed == 0
