"""The load during a run: the load log (one entry per attempt), the progress bar's figures, the summaries and
plot_load for a batch and for a streamed run (also one opened later, from its calls table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import all_handles, target

matplotlib.use("Agg")


class Bar:
    def __init__(self) -> None:
        self.postfixes: list[dict[str, Any]] = []

    def update(self, n: int) -> None:
        pass

    def set_postfix(self, refresh: bool = True, **kwargs: Any) -> None:
        self.postfixes.append(kwargs)


def test_batch_load_log_summary_and_plot(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    bar = Bar()
    batch = client.get_chained_records(all_handles(sb)[:400], **target(sb), concurrency=4, rate=150, progress=bar)
    load = batch.load
    assert load is not None and len(load) == batch.calls_sent == sb.stats()["requests"]
    frame = load.frame()
    assert [str(t) for t in frame.dtypes] == ["datetime64[ns, UTC]", "float64", "int64", "int64", "category"]
    assert set(frame["concurrency"]) == {4} and frame["in_flight"].between(1, 4).all()
    assert (frame["kind"] == "ok").all() and (frame["latency_ms"] > 0).all()
    summary = load.summary()
    assert summary["calls"] == len(frame) and summary["concurrency"] == 4
    assert summary["latency_floor_ms"] <= summary["latency_p50_ms"] <= summary["latency_p95_ms"]
    assert summary["rate"] <= 150 * 1.25  # the limiter's first bucket (0.1 s of calls) on a short run
    assert "load: " in batch._repr_html_() and "calls/s, concurrency 4" in batch._repr_html_()
    # the bar showed the rate, the concurrency in force and the latency against its floor
    shown = [p for p in bar.postfixes if "rate" in p]
    assert shown and shown[-1]["conc"] == "4" and {"lat", "floor"} <= set(shown[-1])
    fig = batch.plot_load()
    assert [ax.get_title() for ax in fig.axes] == [f"calls/s ({len(frame):,} calls)", "calls in flight",
                                                  "latency (ms)"]


def test_streamed_run_load_and_a_run_opened_later(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    run = client.get_chained_records(all_handles(sb)[:300], **target(sb), out=tmp_path / "run", progress=False)
    assert run.load is not None and len(run.load) == run.called
    assert "load: " in run._repr_html_()
    later = gwsnb.open_run(tmp_path / "run")
    assert later.load is None
    from gwsnb.plots import load_frame

    stored = later.load_frame()  # the session's load log, written to load/ when the run ended
    assert stored is not None and len(stored) == run.calls_sent
    assert [str(t) for t in stored.dtypes] == ["datetime64[ns, UTC]", "float64", "int64", "int64", "category"]
    assert set(stored["concurrency"]) == {16}
    assert len(later.plot_load().axes) == 3
    # a run written before the load logs: drawn from its calls table (the last attempt of each handle)
    for file in (tmp_path / "run" / "load").iterdir():
        file.unlink()
    assert gwsnb.open_run(tmp_path / "run").load_frame() is None
    frame = load_frame(gwsnb.open_run(tmp_path / "run"))
    assert len(frame) == later.called and frame["in_flight"].between(1, 16).all()


def test_a_resumed_run_adds_its_sessions_load(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    handles = all_handles(sb)[:300]
    first = client.get_chained_records(handles, **target(sb), out=tmp_path / "run", max_calls=20, progress=False)
    second = client.get_chained_records(handles, **target(sb), out=tmp_path / "run", progress=False)
    assert first.calls_sent == 20 and second.calls_sent is not None and second.calls_sent > 0
    stored = second.load_frame()
    assert stored is not None and len(stored) == 20 + second.calls_sent == sb.stats()["requests"]
    assert len(list((tmp_path / "run" / "load").glob("session-*.parquet"))) == 2


def test_the_hooks_get_the_servers_processing_time(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    """``Pacer.done`` hands its hooks the server's own processing time (what an adaptive controller reads
    beside the latency); here read from a real call's paired user event."""
    from gwsnb._engine.pace import server_ms

    result = client.get_chained_record(all_handles(sb)[0], **target(sb))
    value = server_ms(result)
    assert isinstance(value, float) and value >= 0
    assert server_ms(None) is None


def test_auto_is_accepted_and_stays_under_its_ceiling(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    batch = client.get_chained_records(all_handles(sb)[:60], **target(sb), progress=False,
                                       pace=gwsnb.Pace(concurrency="auto", max_concurrency=4))
    assert batch.ok and batch.load is not None
    frame = batch.load.frame()
    assert frame["concurrency"].between(1, 4).all() and frame["in_flight"].between(1, 4).all()
