"""Written forms: every export (table, CSV, JSON, Parquet, the form's CSV link, the HTML summaries) of a list
with negative offsets, missing times and non-ASCII text, and read back by pandas and DuckDB."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from gwsnb import frames
from gwsnb._cli.chained_records import _text
from gwsnb._display import render as _render
from gwsnb.batch import ChainedRecordBatch

from ._messages import chained_message, internal_event, record, result

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z\Z")
HMS = re.compile(r"-?\d\d:\d\d:\d\d\Z")


def edge_records() -> list[Any]:
    """A result and three raw records: CST / Kathmandu / Newfoundland offsets, missing times, non-ASCII."""
    cst = record(50, 9, 1, contact_info="Zoë Ünïcode ☎ 北京", GSW_TZ_NAME="CST", GSW_TZ_OFFSET=-6 * 3600,
                 call_time=None, note="a/b \"quoted\", comma")
    nepal = record(51, 9, 2, GSW_TZ_NAME="NPT", GSW_TZ_OFFSET=5 * 3600 + 45 * 60, dial_sched_time=None,
                   daily_from=None, tags=["x/y", {"k": "ü"}])
    newfoundland = record(52, 9, 3, GSW_TZ_NAME="NST", GSW_TZ_OFFSET=-(3 * 3600 + 30 * 60), daily_till=86_400)
    return [result("ref-ü/1", length=2), *(chained_message(r, "ref/ø") for r in (cst, nepal, newfoundland))]


@pytest.fixture
def df() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FrameWarning, no pandas deprecation warning
        return frames.records_frame(edge_records())


def test_frame_keeps_computable_dtypes(df: pd.DataFrame) -> None:
    assert list(df["tz_offset_min"]) == [-300, -300, -360, 345, -210]
    assert str(df["tz_offset_min"].dtype) == "Int64"
    assert str(df["daily_from"].dtype) == "timedelta64[ns]" and str(df["call_time"].dtype) == "datetime64[ns, UTC]"
    local = df["dial_sched_time"] + pd.to_timedelta(df["tz_offset_min"].astype("float"), unit="min")
    assert local.iloc[0] == pd.Timestamp(1_700_000_007 - 5 * 3600, unit="s", tz="UTC")
    assert pd.isna(df["call_time"].iloc[2]) and pd.isna(df["daily_from"].iloc[3])
    assert df["daily_till"].iloc[4] == pd.Timedelta(hours=24)


def test_metrics_durations_have_their_unit_in_the_name() -> None:
    metrics = frames.metrics_frame([result(), internal_event(9, 1, "ChainedRecord", None)])
    assert not any(str(t).startswith("timedelta") for t in metrics.dtypes)
    assert [c for c in metrics.columns if "processing" in c or "lag" in c] == [
        "node_processing_ms", "server_processing_ms", "delivery_lag_ms"]
    assert metrics["node_processing_ms"].iloc[0] == pytest.approx(2.5)
    assert "days" not in metrics.to_string() and "days" not in metrics.to_html()


def test_readable_forms(df: pd.DataFrame) -> None:
    written = frames.readable(df)
    assert all(ISO_UTC.match(v) for v in written["dial_sched_time"].dropna())
    assert written["dial_sched_time"].iloc[0] == "2023-11-14T22:13:27Z"
    assert list(written["daily_from"].fillna("-")) == ["08:00:00"] * 3 + ["-", "08:00:00"]
    assert written["daily_till"].iloc[4] == "24:00:00"
    assert list(written["tz_offset_min"]) == [-300, -300, -360, 345, -210]
    assert written["tags"].iloc[3] == '["x/y",{"k":"ü"}]'
    assert str(written["call_result"].dtype) == "string"
    assert pd.isna(written["call_time"].iloc[2])


def test_table_format(df: pd.DataFrame) -> None:
    text = _text(df, "table")
    assert "days" not in text and "NaT" not in text and "<NA>" not in text and "nan" not in text
    assert "Zoë Ünïcode ☎ 北京" in text and "2023-11-14T22:13:27Z" in text and " -360 " in text
    assert "08:00:00" in text and "24:00:00" in text


def test_csv_format_reads_back_with_pandas_and_duckdb(df: pd.DataFrame, tmp_path: Path) -> None:
    text = _text(df, "csv")
    assert "days" not in text and "P0DT" not in text and "+00:00" not in text
    path = tmp_path / "records.csv"
    path.write_text(text, encoding="utf-8")
    assert_same_values(df, parsed(pd.read_csv(path, dtype={"contact_info": str}), df))
    assert_same_values(df, duckdb.read_csv(str(path)).df())


def test_json_format_reads_back_with_pandas_and_duckdb(df: pd.DataFrame, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = _text(df, "json")
    assert "\\/" not in text and "\\u" not in text and "Zoë Ünïcode ☎ 北京" in text and "NaN" not in text
    rows = json.loads(text)
    assert rows[0]["dial_sched_time"] == "2023-11-14T22:13:27Z" and rows[2]["call_time"] is None
    assert rows[3]["tags"] == ["x/y", {"k": "ü"}] and rows[4]["tz_offset_min"] == -210
    path = tmp_path / "records.json"
    path.write_text(text, encoding="utf-8")
    back = pd.read_json(path, orient="records", dtype=False, precise_float=True)
    assert_same_values(df, parsed(back, df))
    duck = duckdb.read_json(str(path)).df()
    # a list mixing text and objects is DuckDB's JSON[]: each element is JSON text
    duck["tags"] = [None if v is None or v is pd.NA else [json.loads(x) for x in v] for v in duck["tags"]]
    assert_same_values(df, duck)


def test_parquet_keeps_native_types(df: pd.DataFrame, tmp_path: Path) -> None:
    batch = ChainedRecordBatch(handles=[7], results=[r for r in edge_records() if not isinstance(r, dict)])
    path = tmp_path / "records.parquet"
    batch.to_parquet(path)
    back = pd.read_parquet(path)
    expected = batch.records_frame()
    assert {c: str(t) for c, t in back.dtypes.items()} == {c: str(t) for c, t in expected.dtypes.items()}
    pd.testing.assert_frame_equal(back, expected)
    # DuckDB reads Parquet instants as TIMESTAMP WITH TIME ZONE, but a duration as integer nanoseconds
    # (docs/frames.md says so): compare those as such
    frame_path = tmp_path / "edge.parquet"
    df.drop(columns=["tags"]).to_parquet(frame_path)  # a mixed list/dict column is pyarrow's own business
    duck = duckdb.read_parquet(str(frame_path)).df()
    for column in ("daily_from", "daily_till"):
        duck[column] = pd.to_timedelta(duck[column], unit="ns")
    assert_same_values(df.drop(columns=["tags"]), duck)


def test_batch_csv_and_the_forms_download_link_are_the_same_text(tmp_path: Path) -> None:
    batch = ChainedRecordBatch(handles=[7], results=[result("ref-ü/1", length=3)])
    path = tmp_path / "batch.csv"
    batch.to_csv(path)
    link = _render.download_link(batch.records_frame())
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)", link)
    assert payload is not None
    assert base64.b64decode(payload.group(1)).decode("utf-8") == path.read_text(encoding="utf-8")
    assert "2023-11-14T22:13:27Z" in path.read_text(encoding="utf-8")


def test_html_table_shows_written_forms(df: pd.DataFrame) -> None:
    page = _render.records_table(df)
    assert "Zoë Ünïcode ☎ 北京" in page and "days" not in page and "&lt;NA&gt;" not in page


# --------------------------------------------------------------------------- comparing
def parsed(back: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """A pandas read-back with each column parsed the way docs/frames.md says for its frame dtype."""
    out = back.copy()
    for column in like.columns:
        kind = like[column].dtype
        if isinstance(kind, pd.DatetimeTZDtype):
            out[column] = pd.to_datetime(back[column], utc=True)
        elif pd.api.types.is_timedelta64_dtype(kind):
            out[column] = pd.to_timedelta(back[column])
    return out


def norm(value: Any) -> Any:
    """A value of either side in one comparable form."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")).isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return pd.Timedelta(value).total_seconds()
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    if isinstance(value, str) and HMS.match(value):  # DuckDB's TIME 24:00:00 reaches Python as text
        hours, minutes, seconds = (int(part) for part in value.lstrip("-").split(":"))
        return (-1 if value.startswith("-") else 1) * (hours * 3600 + minutes * 60 + seconds)
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, dict)):
        return json.loads(json.dumps(value, default=str))
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def assert_same_values(frame: pd.DataFrame, back: pd.DataFrame) -> None:
    assert list(back.columns) == list(frame.columns)
    for column in frame.columns:
        want = [norm(v) for v in frame[column].astype(object).tolist()]
        got = [norm(v) for v in back[column].astype(object).tolist()]
        assert got == want, column
