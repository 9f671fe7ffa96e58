"""Issue 26: a streamed run's parts are written without pandas (gwsnb/_parts.py) and read back as the frames
of the same calls made in memory, dtypes included; a run begun by the pandas writer (pandas metadata in
its Parquet schema) resumes with the new one and reads back as one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gwsnb
from gwsnb import _parts, runs
from gwsnb.batch import HandleFailure
from gwsnb.frames import FrameWarning
from gwsnb.results import ChainedRecordResult, CoveredHandle
from gwsnb.sandbox import Faults, Sandbox

PASSWORD = "Pw-arrow!parts"
UNKNOWN_RESULT, UNKNOWN_STATUS = 999, 77  # codes no label table knows


@pytest.fixture(scope="module")
def odd_list_sb() -> Iterator[Sandbox]:
    """A sandbox whose list has custom fields (int, text, float with gaps) and unknown codes."""
    with Sandbox(chains=40, seed=26) as plain:
        frame = plain.calling_list.copy()
    n = len(frame)
    frame["region"] = [f"r{i % 3}" for i in range(n)]
    frame["vip_level"] = [i % 4 for i in range(n)]
    frame["score"] = [float("nan") if i % 5 == 0 else i / 8 for i in range(n)]
    frame.loc[frame.index[::7], "call_result"] = UNKNOWN_RESULT
    frame.loc[frame.index[3::11], "record_status"] = UNKNOWN_STATUS
    with Sandbox(calling_list=frame, password=PASSWORD) as sb:
        yield sb


@pytest.fixture(scope="module")
def batch(odd_list_sb: Sandbox) -> gwsnb.ChainedRecordBatch:
    """Every handle of the list once, each chain once (so handles are covered), two of them failing."""
    sb = odd_list_sb
    handles = sorted(int(h) for h in sb.calling_list["record_handle"])
    heads = sorted(int(h) for h in sb.calling_list.groupby("chain_id")["record_handle"].min())
    sb.faults = Faults(error_handles={heads[2], heads[9]})
    try:
        with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as client:
            batch = client.get_chained_records(handles, campaign_name=sb.campaign_name,
                                               application_id=sb.application_id, progress=False)
    finally:
        sb.faults = Faults()
    assert isinstance(batch, gwsnb.ChainedRecordBatch)
    assert len(batch.failures) == 2 and batch.covered and batch.results
    records = batch.records_frame()
    assert (records["call_result_code"] == UNKNOWN_RESULT).any() and str(UNKNOWN_RESULT) in set(records["call_result"])
    assert (records["record_status_code"] == UNKNOWN_STATUS).any()
    assert {"region", "vip_level", "score"} <= set(records.columns) and records["score"].isna().any()
    return batch


def _outcomes(batch: gwsnb.ChainedRecordBatch) -> list[ChainedRecordResult | HandleFailure | CoveredHandle]:
    """The batch's outcomes in handle order (the order of its calls frame)."""
    by_handle: dict[int, Any] = {r.record_handle: r for r in batch.results}
    by_handle.update((f.record_handle, f) for f in batch.failures)
    by_handle.update((c.record_handle, c) for c in batch.covered)
    return [by_handle[h] for h in batch.handles if h in by_handle]


def _pandas_written(frame: pd.DataFrame) -> pa.Table:
    """A part's table as the writer made it before issue 26: the frame through ``Table.from_pandas``
    (object columns as text first), pandas metadata included."""
    frame = frame.copy(deep=False)
    frame.attrs = {}
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: None if v is None else str(v)).astype("string")
    return _text_widened(pa.Table.from_pandas(frame, preserve_index=False))


def _text_widened(table: pa.Table) -> pa.Table:
    """``table`` with its text as ``large_string``: pandas 3 turns its string dtype into that, pandas 2 (the
    Python 3.10 suite: pandas 3 needs 3.11) into ``string``; the parts hold ``large_string`` either way, and
    a run begun with ``string`` parts keeps their type (the writer conforms new parts to the first)."""
    def wide(t: pa.DataType) -> pa.DataType:
        if pa.types.is_string(t):
            return pa.large_string()
        if pa.types.is_dictionary(t) and pa.types.is_string(t.value_type):
            return pa.dictionary(t.index_type, pa.large_string(), t.ordered)
        return t

    return table.cast(pa.schema([f.with_type(wide(f.type)) for f in table.schema], metadata=table.schema.metadata))


def _write(path: Path, batch: gwsnb.ChainedRecordBatch, outcomes: list[Any], part_handles: int) -> None:
    writer = runs.RunWriter.open(path, batch.handles, campaign_name="Campaign1", application_id=134,
                                 device_path="d", part_handles=part_handles)
    for outcome in outcomes:  # no writer thread: close() writes the buffer, one part per part_handles
        writer.add(outcome)
        if len(writer._buffer) >= part_handles:
            writer._flush(writer._take())
    writer.close()


def test_part_tables_are_what_the_pandas_writer_wrote(batch: gwsnb.ChainedRecordBatch) -> None:
    outcomes = _outcomes(batch)
    mine = _parts.part_tables(outcomes)
    theirs = {table: _pandas_written(frame) for table, frame in runs.part_frames(outcomes).items()}
    for table in runs.TABLES:
        assert mine[table].schema.metadata is None  # no pandas metadata: nothing pandas-made
        assert mine[table].schema == theirs[table].schema.remove_metadata(), table
        assert mine[table].equals(theirs[table].replace_schema_metadata(None)), table


def _odd_outcomes() -> list[Any]:
    """Outcomes whose payloads hold what a field sends: mixed and nested custom values, integers beyond
    int64, NaN, wrong types in standard columns, unknown codes, absent keys, an incomplete result, a
    failure without a result, a covered handle."""
    from gwsnb.errors import NotificationTimeout
    from tests.frames._messages import result

    first, second, third = result("r1", handle=10, chain_id=1), result("r2", handle=20, chain_id=2), \
        result("r3", handle=30, chain_id=3, length=2, complete=False)
    odd = [
        {"mixed": 1, "nested": {"k": [1, "é"]}, "flag": True, "big": 2**70, "ratio": float("nan"), "attempt": "x"},
        {"mixed": "one", "nested": [1, 2], "flag": None, "big": 5, "ratio": 1.5, "chain_n": 3.0, "call_result": 4242},
        {"mixed": None, "flag": False, "ratio": 2, "daily_from": "n/a", "GSW_TZ_OFFSET": 61, "record_status": "7"},
    ]
    for rec, extra in zip(first.records, odd, strict=True):
        rec["userData"].update(extra)
    second.records[1]["userData"].pop("call_result")
    second.records[1]["userData"].pop("GSW_CALL_RESULT")
    second.records[2]["surprise"] = "record-level key"
    second.user_events[0].message["data"]["metrics"] = "not a dict"
    timeout = NotificationTimeout("no answer", record_handle=40)
    return [first, second, HandleFailure(third.record_handle, NotificationTimeout("partial", result=third), 2),
            HandleFailure(40, timeout, 1), CoveredHandle(41, covered_by=10)]


def test_part_tables_match_the_pandas_writer_on_odd_payloads() -> None:
    outcomes = _odd_outcomes()
    with pytest.warns(FrameWarning):
        theirs = {table: _pandas_written(frame) for table, frame in runs.part_frames(outcomes).items()}
    with pytest.warns(FrameWarning) as caught:
        mine = _parts.part_tables(outcomes)
    assert any("records_frame" in str(w.message) and "attempt=1" in str(w.message) for w in caught)
    assert {"mixed", "nested", "flag", "big", "ratio", "record.surprise"} <= set(mine["records"].column_names)
    for table in runs.TABLES:
        assert mine[table].schema == theirs[table].schema.remove_metadata(), table
        assert mine[table].equals(theirs[table].replace_schema_metadata(None)), table


@pytest.mark.parametrize("categories", [1, 126, 127, 128, 32_766, 32_767, 32_768])
def test_dictionary_index_type_is_the_codes_dtype_pandas_gives(categories: int) -> None:
    """At the int8 and int16 edges too (pandas takes int8 below 127 categories, not 128): the parts of one
    run must agree with the pandas writer's, or a later part's cast to the first one's types fails."""
    codes = pd.Categorical([f"c{i}" for i in range(categories)]).codes
    assert _parts._index_type(categories) == pa.from_numpy_dtype(codes.dtype)


def test_a_run_reads_back_as_the_frames_of_the_same_calls(batch: gwsnb.ChainedRecordBatch, tmp_path: Path) -> None:
    outcomes = _outcomes(batch)
    _write(tmp_path / "one", batch, outcomes, part_handles=10**6)  # one part: every column equal
    run = gwsnb.open_run(tmp_path / "one")
    assert len(run.state["parts"]) == 1 and (run.failed, run.covered) == (2, len(batch.covered))
    pdt.assert_frame_equal(run.records_frame(), batch.records_frame())
    pdt.assert_frame_equal(run.metrics_frame(), batch.metrics_frame())
    pdt.assert_frame_equal(run.calls_frame(), batch.calls_frame())
    assert list(run.records_frame()["call_result"].cat.categories) == list(
        batch.records_frame()["call_result"].cat.categories)  # every known label, then the unknown code
    # several parts: the same tables (a part's clock offset, hence the delivery bounds, is its own)
    _write(tmp_path / "many", batch, outcomes, part_handles=9)
    many = gwsnb.open_run(tmp_path / "many")
    assert len(many.state["parts"]) > 3
    pdt.assert_frame_equal(many.records_frame(), batch.records_frame())
    pdt.assert_frame_equal(many.metrics_frame(), batch.metrics_frame())
    delivery = ["delivery_low_ms", "delivery_high_ms"]
    pdt.assert_frame_equal(many.calls_frame().drop(columns=delivery), batch.calls_frame().drop(columns=delivery))


def test_a_run_begun_by_the_pandas_writer_resumes_and_reads_as_one_table(
        batch: gwsnb.ChainedRecordBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = _outcomes(batch)
    half = len(outcomes) // 2
    path = tmp_path / "run"
    with monkeypatch.context() as patch:  # the first session: the writer as it was (pandas metadata)
        patch.setattr(_parts, "part_tables", lambda items: {
            table: _pandas_written(frame) for table, frame in runs.part_frames(items).items()})
        writer = runs.RunWriter.open(path, batch.handles, campaign_name="Campaign1", application_id=134,
                                     device_path="d")
        for outcome in outcomes[:half]:
            writer.add(outcome)
        writer.close()
    first = sorted((path / "records").glob("part-*.parquet"))
    assert len(first) == 1 and b"pandas" in pq.read_schema(first[0]).metadata
    # the second session resumes it with today's writer
    writer = runs.RunWriter.open(path, batch.handles, campaign_name="Campaign1", application_id=134, device_path="d")
    assert writer.remaining(batch.handles) == [o.record_handle for o in outcomes[half:]] + batch.skipped
    for outcome in outcomes[half:]:
        writer.add(outcome)
    writer.close()
    run = gwsnb.open_run(path)
    assert len(run.state["parts"]) == 2 and run.remaining == len(batch.skipped)
    schemas = {pq.read_schema(f).remove_metadata() for f in (path / "records").glob("*.parquet")}
    assert len(schemas) == 1
    pdt.assert_frame_equal(run.records_frame(), batch.records_frame())
    pdt.assert_frame_equal(run.metrics_frame(), batch.metrics_frame())
    delivery = ["delivery_low_ms", "delivery_high_ms"]
    pdt.assert_frame_equal(run.calls_frame().drop(columns=delivery), batch.calls_frame().drop(columns=delivery))


def test_a_streamed_cli_run_does_not_import_pandas(odd_list_sb: Sandbox, tmp_path: Path) -> None:
    """The command line over a socket, in its own process: its run is written, its report lists a failed
    handle, and pandas never loaded."""
    sb = odd_list_sb
    failing = int(sb.calling_list.groupby("chain_id")["record_handle"].min().min())  # a chain's head: called
    wrapper = ("import json, sys\nimport gwsnb.cli\ncode = gwsnb.cli.main(sys.argv[1:])\n"
               "print(json.dumps({'code': code, 'pandas': 'pandas' in sys.modules}))\n")
    out = tmp_path / "run"
    args = ["chained-records", "--url", sb.url, "--user", sb.username, "--campaign", sb.campaign_name,
            "--application-id", str(sb.application_id), "--handles", "1-60", "--password-env", "RUN_PW",
            "--out-dir", os.fspath(out), "--no-progress"]
    sb.faults = Faults(error_handles={failing})
    try:
        proc = subprocess.run([sys.executable, "-c", wrapper, *args], input="", capture_output=True, text=True,
                              env={**os.environ, "RUN_PW": PASSWORD}, timeout=120, start_new_session=True)
    finally:
        sb.faults = Faults()
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"code": 1, "pandas": False}, proc.stderr  # 1: a handle failed
    assert f"failed handle {failing}: ChainedRecordError" in proc.stderr
    run = gwsnb.open_run(out)
    assert (run.done, run.failed) == (59, 1) and len(run.records_frame()) >= 59 and run.load_frame() is not None
    assert list(run.failures()["record_handle"]) == [failing]
