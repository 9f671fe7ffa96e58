"""Issue 12, items 1-4: lean batches, runs streamed to a Parquet dataset, resume (also after SIGKILL), and
reading a run back with :func:`gwsnb.open_run` (and with DuckDB)."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow.parquet as pq
import pytest

import gwsnb
import gwsnb.runs
from gwsnb.batch import PackedResults, ResultPacker, lean_result
from gwsnb.sandbox import Faults, Sandbox
from tests.chains import ChainIndex

from .conftest import PASSWORD, heads

ROOT = Path(__file__).resolve().parents[2]


def _run(client: gwsnb.GwsClient, sb: Sandbox, handles: list[int], **kwargs: object) -> object:
    return client.get_chained_records(handles, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                      progress=False, **kwargs)


def _by_record(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["record_handle", "chain_n"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- lean batches
def test_lean_batches_give_the_same_frames_as_keep_events(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    full = _run(client, sb, heads(sb, 120), keep_events=True)
    assert isinstance(full, gwsnb.ChainedRecordBatch) and full.ok
    assert all(r.events for r in full.results)
    # the same run, trimmed and packed as a default (lean) run keeps it
    packer = ResultPacker()
    kept = {r.record_handle: packer.pack_outcome(copy.deepcopy(r)) for r in full.results}
    lean = gwsnb.ChainedRecordBatch.from_outcomes(full.handles, kept, elapsed_s=full.elapsed_s, packer=packer)
    assert isinstance(lean.results, PackedResults) and len(lean.results) == len(full.results)
    assert all(r.events == [] for r in lean.results)
    pdt.assert_frame_equal(lean.records_frame(), full.records_frame())
    pdt.assert_frame_equal(lean.metrics_frame(), full.metrics_frame())
    pdt.assert_frame_equal(lean.calls_frame(), full.calls_frame())
    assert lean.summary() == full.summary() and lean.latency_percentiles() == full.latency_percentiles()
    assert [r.records for r in lean.results] == [r.records for r in full.results]
    assert lean.results[5].timings == full.results[5].timings and lean.results[-1].end == full.results[-1].end
    # trimming alone (no packing) keeps the frames too
    trimmed = copy.deepcopy(full)
    for result in trimmed.results:
        lean_result(result)
    pdt.assert_frame_equal(trimmed.metrics_frame(), full.metrics_frame())


def test_a_default_run_is_lean_and_keeps_the_metrics(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    batch = _run(client, sb, heads(sb, 30))
    assert isinstance(batch, gwsnb.ChainedRecordBatch) and batch.ok
    assert isinstance(batch.results, PackedResults) and len(batch.results) == 30
    assert all(r.events == [] and r.user_events and r.end is not None for r in batch.results)
    assert batch.results[0] == batch.results[0] and batch.results[:2] == list(batch.results)[:2]
    metrics = batch.metrics_frame()
    assert len(metrics) == sum(len(r.user_events) for r in batch.results)
    assert metrics["server_generated_at"].notna().all()


def test_keep_events_is_checked(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(gwsnb.InvalidParameterError, match="keep_events"):
        _run(client, sb, [1], keep_events="yes")
    with pytest.raises(gwsnb.InvalidParameterError, match="keep_events"):
        _run(client, sb, [1], keep_events=True, out=tmp_path / "r")
    with pytest.raises(gwsnb.InvalidParameterError, match="max_outage"):
        _run(client, sb, [1], max_outage=0)


# --------------------------------------------------------------------------- streamed runs
def test_a_streamed_run_equals_the_in_memory_one(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gwsnb.runs, "PART_HANDLES", 50)
    handles = heads(sb, 180)
    batch = _run(client, sb, handles)
    run = _run(client, sb, handles, out=tmp_path / "q3")
    assert isinstance(run, gwsnb.runs.Run)
    assert (run.total, run.done, run.failed, run.remaining, run.ok) == (180, 180, 0, 0, True)
    assert len(list((tmp_path / "q3" / "calls").glob("part-*.parquet"))) >= 2  # several parts
    # same columns and dtypes as the frames (reference ids and instants differ between two runs)
    varying = ["reference_id", "dial_sched_time", "call_time"]
    pdt.assert_frame_equal(_by_record(run.records_frame()).drop(columns=varying),
                           _by_record(batch.records_frame()).drop(columns=varying))
    for name in ("metrics_frame", "calls_frame"):
        mine, theirs = getattr(run, name)(), getattr(batch, name)()
        assert list(mine.columns) == list(theirs.columns)
        assert list(mine.dtypes) == list(theirs.dtypes), name
    assert len(run.metrics_frame()) == len(batch.metrics_frame())
    # one schema across parts
    schemas = {pq.read_schema(f).remove_metadata() for f in (tmp_path / "q3" / "records").glob("*.parquet")}
    assert len(schemas) == 1
    # columns= and filters= are pushed down
    some = run.records_frame(columns=["record_handle", "call_result"], filters=[("chain_n", "==", 0)])
    assert list(some.columns) == ["record_handle", "call_result"] and len(some) == 180
    assert run.latency_percentiles().keys() == {50, 90, 99}
    html = run._repr_html_()
    assert "done 180" in html and "remaining 0" in html and "p50" in html
    again = gwsnb.open_run(tmp_path / "q3")
    assert again.done == 180 and len(again.failures()) == 0


def test_failures_are_written_and_not_called_again(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    sb.faults.error_handles = {heads(sb)[3]}
    handles = heads(sb, 20)
    run = _run(client, sb, handles, out=tmp_path / "r")
    assert (run.done, run.failed, run.remaining) == (19, 1, 0) and not run.ok
    failures = run.failures()
    assert list(failures["record_handle"]) == [handles[3]] and "ChainedRecordError" in failures["error"][0]
    assert "failure reason" in run._repr_html_()
    sb.faults.error_handles = set()
    again = _run(client, sb, handles, out=tmp_path / "r")
    assert (again.done, again.failed) == (19, 1)  # a finished handle is not called again


def test_resume_with_other_parameters_is_refused(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(client, sb, heads(sb, 10), out=out)
    with pytest.raises(gwsnb.InvalidParameterError, match="handles differ") as info:
        _run(client, sb, heads(sb, 11), out=out)
    assert info.value.field == "out"
    with pytest.raises(gwsnb.InvalidParameterError, match="campaign_name, application_id differ"):
        client.get_chained_records(heads(sb, 10), campaign_name="Other", application_id=sb.application_id + 1,
                                   progress=False, out=out)
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "full"):
        with pytest.raises(gwsnb.InvalidParameterError, match="not an empty folder"):
            _run(client, sb, heads(sb, 10), out=bad)
    with pytest.raises(gwsnb.InvalidParameterError, match="not a readable gwsnb run"):
        gwsnb.open_run(tmp_path / "full")


def test_the_dataset_read_with_duckdb_equals_open_run(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    duckdb = pytest.importorskip("duckdb")
    monkeypatch.setattr(gwsnb.runs, "PART_HANDLES", 40)
    run = _run(client, sb, heads(sb, 150), out=tmp_path / "q3")
    mine = run.records_frame()
    glob = os.fspath(tmp_path / "q3" / "records" / "*.parquet")
    with duckdb.connect() as db:
        theirs = db.sql(f"SELECT * FROM read_parquet('{glob}') ORDER BY record_handle, chain_n").df()
        per_result = db.sql(f"SELECT call_result, count(*) AS n FROM read_parquet('{glob}') "
                            "GROUP BY call_result ORDER BY n DESC").df()
    # every part carries when its run began, for a history read as one table (docs/history.md); the frames not
    assert (pd.to_datetime(theirs.pop("snapshot_time"), utc=True) == pd.Timestamp(run.meta["created"])).all()
    assert list(theirs.columns) == list(mine.columns) and len(theirs) == len(mine)
    mine = _by_record(mine)
    for column in mine.columns:  # DuckDB gives numpy/object dtypes: compare the values
        left = mine[column].astype(object).where(mine[column].notna(), None).tolist()
        right = theirs[column].astype(object).where(theirs[column].notna(), None).tolist()
        if column in ("dial_sched_time", "call_time"):
            left, right = _utc(left), _utc(right)
        elif column in ("daily_from", "daily_till", "tz_offset"):
            left = [None if v is None else pd.Timedelta(v) for v in left]
            right = [None if v is None else pd.Timedelta(v) for v in right]
        assert left == right, column
    assert per_result["n"].sum() == len(mine)


def _utc(values: list[object]) -> list[object]:
    """Instants as UTC timestamps (DuckDB may hand a UTC-adjusted Parquet timestamp back tz-naive)."""
    out: list[object] = []
    for v in values:
        stamp = None if v is None else pd.Timestamp(v)  # type: ignore[arg-type]
        out.append(stamp if stamp is None else stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC"))
    return out


# --------------------------------------------------------------------------- kill -9 and resume
def _state(out: Path) -> dict[str, object]:
    try:
        return json.loads((out / "_state.json").read_text())
    except (OSError, ValueError):
        return {"parts": []}


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_with_every_handle_exactly_once(
        client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    handles = heads(sb, 400)
    out = tmp_path / "killed"
    sb.faults = Faults(latency_ms=40)  # about 50 handles/s at concurrency 8: the kill lands mid-run
    env = {**os.environ, "GWS_PASSWORD": PASSWORD}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.runs._child", sb.url, sb.username, sb.campaign_name,
         str(sb.application_id), os.fspath(out), ",".join(map(str, handles))],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_state(out)["parts"]) < 2:  # type: ignore[arg-type]
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child wrote no parts"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    sb.faults = Faults()
    killed = gwsnb.open_run(out)
    assert 0 < killed.done < len(handles) and killed.remaining == len(handles) - killed.done
    run = _run(client, sb, handles, out=out)
    assert run.ok and run.done == len(handles)
    calls = run.calls_frame(columns=["record_handle"])
    assert sorted(calls["record_handle"]) == sorted(handles)  # every handle exactly once
    index = ChainIndex(sb)
    assert len(run.records_frame(columns=["record_handle"])) == sum(len(index.keys(h)) for h in handles)
    for table in ("records", "metrics", "calls"):  # no corrupt part, no leftover
        files = sorted((out / table).iterdir())
        assert all(f.name.startswith("part-") and f.suffix == ".parquet" for f in files), files
        for f in files:
            pq.read_table(f)


async def test_the_async_twin_streams_too(client: gwsnb.GwsClient, sb: Sandbox, tmp_path: Path) -> None:
    handles = heads(sb, 40)
    run = await client.get_chained_records_async(handles, campaign_name=sb.campaign_name,
                                                 application_id=sb.application_id, progress=False,
                                                 out=tmp_path / "a")
    assert isinstance(run, gwsnb.runs.Run) and run.ok and run.done == 40
    assert sorted(run.calls_frame()["record_handle"]) == sorted(handles)
    batch = await client.get_chained_records_async(handles[:5], campaign_name=sb.campaign_name,
                                                   application_id=sb.application_id, progress=False)
    assert isinstance(batch.results, PackedResults) and batch.ok
