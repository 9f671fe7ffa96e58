"""Issue 21, items 3 and 8: ``run.sql`` over a run whose parts two processes wrote (killed, then resumed)
answers what the frames hold; pyarrow reads the same dataset; a missing DuckDB names the extra."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow.dataset as ds
import pytest

import gwsnb
import gwsnb.runs
from gwsnb.sandbox import Faults, Sandbox

from .conftest import PASSWORD, heads, run

ROOT = Path(__file__).resolve().parents[2]
SHOWN = ["reference_id", "record_handle", "chain_id", "chain_n", "contact_info", "record_status", "call_result_code",
         "attempt", "dial_sched_time", "call_time"]


def _comparable(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(frame[name].dtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None).astype(pd.StringDtype())
        elif str(frame[name].dtype).startswith(("int", "Int")):
            frame[name] = frame[name].astype("Int64")
        elif str(frame[name].dtype).startswith("datetime64"):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
        elif str(frame[name].dtype).startswith(("float", "Float")):
            frame[name] = frame[name].astype("Float64")
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _parts(out: Path) -> int:
    try:
        import json

        return len(json.loads((out / "_state.json").read_text())["parts"])
    except (OSError, ValueError):
        return 0


def test_sql_over_a_run_written_by_two_processes_equals_the_frames(tmp_path: Path) -> None:
    with Sandbox(chains=150, seed=8, password=PASSWORD) as sb:
        handles = heads(sb)
        out = tmp_path / "resumed"
        sb.faults = Faults(latency_ms=30)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.runs._child", sb.url, sb.username, sb.campaign_name, str(sb.application_id),
             os.fspath(out), ",".join(map(str, handles))],
            cwd=ROOT, env={**os.environ, "GWS_PASSWORD": PASSWORD}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while _parts(out) < 1:
                assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
                assert time.monotonic() < deadline, "the child wrote no part"
                time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(30)
        sb.faults = Faults()
        assert 0 < gwsnb.open_run(out).done < len(handles)
        resumed = run(sb, handles, out)
    assert resumed.ok and len(resumed.state["parts"]) >= 2
    records = resumed.records_frame()
    answer = resumed.sql(f"select {', '.join(SHOWN)} from records")
    pdt.assert_frame_equal(_comparable(answer, ["reference_id", "record_handle"]),
                           _comparable(records[SHOWN], ["reference_id", "record_handle"]))
    calls = resumed.calls_frame()
    pdt.assert_frame_equal(_comparable(resumed.sql("select record_handle, status, records, attempts from calls"),
                                       ["record_handle"]),
                           _comparable(calls[["record_handle", "status", "records", "attempts"]], ["record_handle"]))
    metrics = resumed.sql("select user_event, count(*) as n from metrics group by 1 order by 1")
    expected = resumed.metrics_frame()["user_event"].value_counts().sort_index()
    assert metrics["n"].tolist() == expected.tolist() and metrics["user_event"].tolist() == expected.index.tolist()
    # pyarrow reads the same committed parts as a plain Parquet dataset
    files = [os.fspath(out / "records" / f"{name}.parquet") for name in resumed.state["parts"]]
    assert ds.dataset(files, format="parquet").count_rows() == len(records)
    # latest: each record once
    assert resumed.sql("select count(*) as n from latest")["n"].iloc[0] == records["record_handle"].nunique()


def test_polars_lazy_scan_reads_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Polars's lazy Parquet scan reads a run's committed parts in place and agrees with run.sql."""
    import polars as pl

    monkeypatch.setattr(gwsnb.runs, "PART_HANDLES", 20)
    with Sandbox(chains=60, seed=4, password=PASSWORD) as sb:
        small = run(sb, heads(sb), tmp_path / "small")
    assert len(small.state["parts"]) >= 2
    files = [os.fspath(tmp_path / "small" / "records" / f"{name}.parquet") for name in small.state["parts"]]
    lazy = pl.scan_parquet(files).group_by("call_result_code").agg(pl.len().alias("n")).sort("call_result_code")
    answer = small.sql("select call_result_code, count(*) as n from records group by 1 order by 1")
    scanned = lazy.collect()
    assert scanned["call_result_code"].to_list() == answer["call_result_code"].tolist()
    assert scanned["n"].to_list() == answer["n"].tolist()


def test_a_missing_duckdb_names_the_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['duckdb'] = None\n"
            "from gwsnb._analysis import duck\n"
            "try:\n    duck.require_duckdb()\nexcept ImportError as exc:\n    print(exc)\n")
    shown = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "pip install 'gwsnb[parquet]'" in shown and "DuckDB" in shown


def test_a_bad_query_is_duckdbs_error(tmp_path: Path) -> None:
    with Sandbox(chains=3, seed=1, password=PASSWORD) as sb:
        small = run(sb, heads(sb), tmp_path / "small")
    import duckdb

    with pytest.raises(duckdb.Error, match="no_such_column"):
        small.sql("select no_such_column from records")
