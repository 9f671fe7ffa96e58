"""ChainedRecordBatch frames, CSV/JSON/Parquet export read back by pandas and DuckDB, and the notebook summary,
from a real batch."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import gwsnb
from gwsnb import errors
from gwsnb._cli.chained_records import _write
from gwsnb.sandbox import Faults, Sandbox
from tests.frames.test_written import assert_same_values, parsed

from .conftest import PASSWORD, all_handles


@pytest.fixture(scope="module")
def batch(sandbox: Sandbox) -> Iterator[gwsnb.ChainedRecordBatch]:
    handles = all_handles(sandbox)[:40]
    bad, lost = handles[5], handles[9]
    sandbox.faults = Faults(error_handles={bad}, drop_data_end_handles={lost})
    try:
        with gwsnb.connect(sandbox.url, sandbox.username, PASSWORD) as client:
            yield client.get_chained_records(handles, campaign_name=sandbox.campaign_name,
                                             application_id=sandbox.application_id, timeout=0.5, retries=1,
                                             progress=False, every_handle=True)  # one call per handle
    finally:
        sandbox.faults = Faults()


def test_records_frame_follows_the_results(batch: gwsnb.ChainedRecordBatch) -> None:
    df = batch.records_frame()
    assert len(df) == batch.record_count == sum(len(r.records) for r in batch.results)
    expected = [rec["recordHandle"] for r in batch.results for rec in r.records]
    assert df["record_handle"].tolist() == expected
    refs = [r.reference_id for r in batch.results for _ in r.records]
    assert df["reference_id"].tolist() == refs


def test_metrics_frame_has_the_server_events(batch: gwsnb.ChainedRecordBatch) -> None:
    df = batch.metrics_frame()
    assert len(df) == sum(len(r.user_events) for r in batch.results)
    assert set(df["reference_id"]) == {r.reference_id for r in batch.results}


def test_calls_frame_one_row_per_finished_handle(batch: gwsnb.ChainedRecordBatch) -> None:
    df = batch.calls_frame()
    assert df["record_handle"].tolist() == batch.handles  # 38 ok + 2 failed, none skipped, handle order
    status = dict(zip(df["record_handle"], df["status"], strict=True))
    attempts = dict(zip(df["record_handle"], df["attempts"], strict=True))
    failed = {f.record_handle: f for f in batch.failures}
    assert {h for h, s in status.items() if s == "error"} == set(failed)
    for handle, failure in failed.items():
        assert attempts[handle] == failure.attempts
    assert sorted(f.attempts for f in batch.failures) == [1, 2]
    errors_col = dict(zip(df["record_handle"], df["error"], strict=True))
    assert any(str(errors_col[h]).startswith("ChainedRecordError") for h in failed)
    assert any(str(errors_col[h]).startswith("NotificationTimeout") for h in failed)


def test_to_csv_round_trip(batch: gwsnb.ChainedRecordBatch, tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    batch.to_csv(path)
    back = pd.read_csv(path, dtype={"contact_info": str})
    df = batch.records_frame()
    assert list(back.columns) == list(df.columns)
    assert back["record_handle"].tolist() == df["record_handle"].tolist()
    assert back["contact_info"].tolist() == df["contact_info"].tolist()
    # the sandbox's list has offsets west of UTC and records never called: both written readably
    assert (df["tz_offset_min"] < 0).any() and df["call_time"].isna().any()
    assert_same_values(df, parsed(back, df))
    assert_same_values(df, duckdb.read_csv(str(path)).df())


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_command_line_formats_read_back(batch: gwsnb.ChainedRecordBatch, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"records.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas deprecation warning reaches the user
        _write(batch, fmt, str(path))
    text = path.read_text(encoding="utf-8")
    assert "days" not in text and "P0DT" not in text and "\\/" not in text
    df = batch.records_frame()
    if fmt == "csv":
        back = pd.read_csv(path, dtype={"contact_info": str})
    else:
        back = pd.read_json(path, orient="records", dtype=False, precise_float=True)
    assert_same_values(df, parsed(back, df))
    duck = (duckdb.read_csv if fmt == "csv" else duckdb.read_json)(str(path))
    assert dict(zip(duck.columns, map(str, duck.types), strict=True))["daily_from"] == "TIME"
    assert_same_values(df, duck.df())


def test_to_parquet_round_trip(batch: gwsnb.ChainedRecordBatch, tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    batch.to_parquet(path)
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, batch.records_frame(), check_dtype=False, check_categorical=False)


def test_to_parquet_without_pyarrow_names_the_extra(batch: gwsnb.ChainedRecordBatch, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` raise ImportError
    with pytest.raises(ImportError, match=r"pip install gwsnb\[parquet\]"):
        batch.to_parquet(tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_summary_html_and_repr(batch: gwsnb.ChainedRecordBatch) -> None:
    page = batch._repr_html_()
    assert page.count("<svg") == 1 and "POST to DataEnd (ms)" in page  # the small latency chart
    assert "40 handle(s)" in page and "ok 38" in page and "failed 2" in page
    assert "ChainedRecordError (errorCode 104)" in page and "NotificationTimeout" in page
    pct = batch.latency_percentiles()
    assert list(pct) == [50, 90, 99] and pct[50] <= pct[90] <= pct[99]
    totals = sorted(r.timings.total_ms or 0 for r in batch.results)
    assert totals[0] <= pct[50] <= totals[-1]
    assert f"p50 {pct[50]:.1f} ms" in page
    assert repr(batch).startswith("<ChainedRecordBatch handles=40 ok=38 failed=2 skipped=0")
    assert len(batch) == 40
    assert PASSWORD not in page and PASSWORD not in repr(batch)


def test_empty_batch_frames_keep_their_columns() -> None:
    empty = gwsnb.ChainedRecordBatch(handles=[1, 2], skipped=[1, 2], interrupted=True)
    assert empty.records_frame().empty and "record_handle" in empty.records_frame().columns
    assert empty.calls_frame().empty and "attempts" in empty.calls_frame().columns
    assert empty.latency_percentiles() == {}
    assert "interrupted" in empty._repr_html_()


def test_failure_reason_for_status_errors() -> None:
    failure = gwsnb.HandleFailure(7, errors.status_error({"statusCode": 6}), 1)
    assert failure.reason == "NotFoundError (statusCode 6)"
    assert failure.result is None


def test_command_line_report_names_units(batch: gwsnb.ChainedRecordBatch) -> None:
    import io

    from gwsnb._cli.chained_records import _report

    stream = io.StringIO()
    _report(batch, stream)
    pct = batch.latency_percentiles()
    assert f"POST to DataEnd: p50 {pct[50]:.1f} ms, p90 {pct[90]:.1f} ms, p99 {pct[99]:.1f} ms" in stream.getvalue()
