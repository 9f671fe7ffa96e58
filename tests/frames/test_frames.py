"""records_frame, metrics_frame, events_frame, calls_frame: golden values, dtypes, mixes, labels, files."""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gwsnb import _columns, frames, labels
from gwsnb.results import CoveredHandle, Event

from ._messages import DEVICE, chained_message, internal_event, record, result, sample

UTC = "datetime64[ns, UTC]"
TD = "timedelta64[ns]"

RECORD_DTYPES: dict[str, str] = {
    "reference_id": "string",
    "record_handle": "Int64",
    "chain_id": "Int64",
    "chain_n": "Int64",
    "contact_info": "string",
    "contact_info_type": "category",
    "contact_info_type_code": "Int64",
    "record_type": "category",
    "record_type_code": "Int64",
    "record_status": "category",
    "record_status_code": "Int64",
    "call_result": "category",
    "call_result_code": "Int64",
    "attempt": "Int64",
    "dial_sched_time": UTC,
    "call_time": UTC,
    "daily_from": TD,
    "daily_till": TD,
    "tz_name": "string",
    "tz_offset_min": "Int64",
    "tz_dbid": "Int64",
    "campaign_name": "string",
    "calling_list": "string",
    "application_id": "Int64",
    "device_path": "string",
}
METRICS_DTYPES = {
    "reference_id": "string",
    "record_handle": "Int64",
    "user_event": "string",
    "server_generated_at": UTC,
    "node_processing_ms": "Float64",
    "server_processing_ms": "Float64",
    "client_received_at": UTC,
    "delivery_lag_ms": "Float64",
    "chain_id": "Int64",
    "device_id": "string",
}
EVENTS_DTYPES = {
    "received_at": UTC,
    "channel": "string",
    "message_type": "string",
    "notification_type": "string",
    "reference_id": "string",
    "record_handle": "Int64",
    "size_bytes": "Int64",
    "payload": "object",
}
CALLS_DTYPES = {
    "record_handle": "Int64",
    "reference_id": "string",
    "status": "category",
    "error": "string",
    "records": "Int64",
    "attempts": "Int64",
    "sent": UTC,
    "http_ms": "Float64",
    "first_event_ms": "Float64",
    "total_ms": "Float64",
    "server_processing_ms": "Float64",
    "delivery_low_ms": "Float64",
    "delivery_high_ms": "Float64",
    "covered_by": "Int64",
}


def dtypes(df: pd.DataFrame, names: list[str] | None = None) -> dict[str, str]:
    return {name: str(df[name].dtype) for name in (names or list(df.columns))}


# --------------------------------------------------------------------------- golden: shared samples
def test_preview_record_sample_user_data_is_parsed() -> None:
    data = copy.deepcopy(sample("preview_record.notification.partial.json"))
    data["notificationType"] = "ChainedRecord"  # same userData shape, as the contract says
    df = frames.records_frame([{"channel": "/v2/me/outbound", "data": data}])
    assert len(df) == 1
    row = df.iloc[0]
    assert row["reference_id"] == "123456789"
    assert row["contact_info"] == "647000"
    assert row["call_result_code"] == 28 and row["call_result"] == "Unknown Call Result"
    assert row["attempt"] == 0  # from GSW_ATTEMPTS, since the sample has no OCS attempt column
    assert row["tz_name"] == "PST" and row["tz_offset_min"] == -7 * 60
    assert row["campaign_name"] == "Campaign1" and row["calling_list"] == "CallingList1"
    assert row["application_id"] == 134
    assert row["custom1"] == "something" and row["custom2"] == 0
    assert row["InteractionType"] == "Outbound" and row["GSW_AGENT_ID"] == "3001"
    assert row["GSW_CALL_ATTEMPT_GUID"] == "01AJ7BMDBGANF1AABGHAHG5AES000003"
    assert pd.isna(row["chain_n"]) and pd.isna(row["dial_sched_time"]) and pd.isna(row["device_path"])
    # consumed GSW keys are shown under their column names, not twice
    assert "GSW_PHONE" not in df.columns and "GSW_TZ_OFFSET" not in df.columns
    assert df.attrs == {"skipped": 0, "invalid": {}}


def test_data_end_sample_metrics() -> None:
    messages = sample("get_chained_record.connect_response.json")
    events = [Event(1433915532.950, m) for m in messages]
    df = frames.metrics_frame(events)
    assert len(df) == 1 and df.attrs["skipped"] == 2  # the outbound DataEnd and /meta/connect
    row = df.iloc[0]
    assert row["record_handle"] == 7 and row["chain_id"] == 1
    assert row["user_event"] == "ChainedRecordsDataEnd"
    assert row["server_generated_at"] == pd.Timestamp(1433915532887, unit="ms", tz="UTC")
    assert row["node_processing_ms"] == pytest.approx(6.518539)
    assert row["server_processing_ms"] == 6.0
    assert row["client_received_at"] == pd.Timestamp("2015-06-10 05:52:12.950", tz="UTC")
    assert row["delivery_lag_ms"] == pytest.approx(63.0)
    assert row["device_id"] == DEVICE
    assert dtypes(df) == METRICS_DTYPES


def test_data_end_sample_events_frame() -> None:
    messages = sample("get_chained_record.connect_response.json")
    df = frames.events_frame(messages)
    assert list(df["channel"]) == ["/v2/me/outbound", "/me/internal", "/meta/connect"]
    assert list(df["notification_type"].fillna("-")) == ["ChainedRecordsDataEnd", "-", "-"]
    assert list(df["record_handle"].fillna(-1)) == [7, 7, -1]
    assert df["payload"].iloc[0] is messages[0]
    assert df["received_at"].isna().all()  # raw dicts carry no receipt time
    assert (df["size_bytes"] > 50).all()
    assert dtypes(df) == EVENTS_DTYPES


def test_records_from_sample_data_end_are_skipped() -> None:
    df = frames.records_frame(sample("get_chained_record.connect_response.json"))
    assert len(df) == 0 and df.attrs["skipped"] == 3


# --------------------------------------------------------------------------- records_frame
def test_records_frame_of_result_values_and_order() -> None:
    res = result(length=3)
    df = res.records_frame()
    assert list(df["chain_n"]) == [1, 2, 3]
    assert list(df["record_handle"]) == [7, 8, 9]
    assert set(df["reference_id"]) == {"ref-1"}
    assert list(df.columns[:5]) == ["reference_id", "record_handle", "chain_id", "chain_n", "contact_info"]
    row = df.iloc[0]
    assert row["contact_info_type"] == "Mobile" and row["contact_info_type_code"] == 4
    assert row["record_type"] == "General" and row["record_status"] == "Retrieved"
    assert row["call_result"] == "Answer"
    assert row["dial_sched_time"] == pd.Timestamp(1_700_000_007, unit="s", tz="UTC")
    assert row["daily_from"] == pd.Timedelta(hours=8) and row["daily_till"] == pd.Timedelta(hours=20)
    assert row["customer_id"] == "C7"
    assert dtypes(df, list(RECORD_DTYPES)) == RECORD_DTYPES
    assert list(df.columns[: len(RECORD_DTYPES)]) == list(RECORD_DTYPES) == list(frames.RECORD_COLUMNS)


def test_empty_input_has_standard_columns_and_dtypes() -> None:
    for df, expected in (
        (frames.records_frame([]), RECORD_DTYPES),
        (frames.metrics_frame([]), METRICS_DTYPES),
        (frames.events_frame([]), EVENTS_DTYPES),
        (frames.calls_frame([]), CALLS_DTYPES),
    ):
        assert len(df) == 0
        assert dtypes(df) == expected


def test_mixed_inputs_give_stable_columns() -> None:
    res = result("ref-A", handle=10, length=2)
    raw = chained_message(record(50, 9, 1), reference_id=12345)  # numeric referenceId keeps its value
    event = Event(1.0, chained_message(record(60, 10, 1), reference_id="ref-C"))
    bare = chained_message(record(70, 11, 1))["data"]
    noise = [sample("get_chained_record.connect_response.json")[1], "not a message", 42, Event(2.0, {})]
    df = frames.records_frame([res, raw, event, bare, *noise])
    assert list(df["record_handle"]) == [10, 11, 50, 60, 70]
    assert list(df["reference_id"]) == ["ref-A", "ref-A", "12345", "ref-C", "ref-1"]
    assert df.attrs["skipped"] == len(noise)
    assert dtypes(df, list(RECORD_DTYPES)) == RECORD_DTYPES
    alone = frames.records_frame([raw])
    assert list(alone.columns) == list(df.columns)
    assert dtypes(alone) == dtypes(df)


def test_ocs_columns_fall_back_to_gsw_keys_and_result_context() -> None:
    rec = record(5, 2, 1)
    for key in ("contact_info", "call_result", "attempt", "chain_id"):
        del rec["userData"][key]
    del rec["campaignName"], rec["applicationId"], rec["devicePath"]
    del rec["userData"]["GSW_CAMPAIGN_NAME"], rec["userData"]["GSW_APPLICATION_ID"]
    res = result(length=0)
    res.records = [rec]
    row = frames.records_frame([res]).iloc[0]
    assert row["contact_info"] == "+15550000005" and row["call_result_code"] == 33 and row["attempt"] == 1
    assert row["chain_id"] == 2
    assert row["campaign_name"] == "Campaign1" and row["application_id"] == 134
    assert row["device_path"] == f"/devices/{DEVICE}"


def test_unknown_keys_are_kept_and_clashing_names_prefixed() -> None:
    rec = record(5, 2, 1, tz_name="clash", extra_list=[1, 2], GSW_NEW_KEY=True)
    rec["priority"] = "high"
    df = frames.records_frame([chained_message(rec)])
    assert df["userData.tz_name"].iloc[0] == "clash" and df["tz_name"].iloc[0] == "EST"
    assert df["extra_list"].iloc[0] == [1, 2] and df["extra_list"].dtype == object
    assert df["GSW_NEW_KEY"].iloc[0] and str(df["GSW_NEW_KEY"].dtype) == "boolean"
    assert df["record.priority"].iloc[0] == "high"
    custom_first = list(df.columns[len(frames.RECORD_COLUMNS):])
    assert custom_first.index("customer_id") < custom_first.index("GSW_NEW_KEY") < custom_first.index("record.priority")


def test_wrong_types_become_missing_with_one_warning() -> None:
    bad = record(5, 2, 1, attempt="three", call_result=[1], dial_sched_time={"s": 1})
    bad["userData"]["chain_n"] = True
    good = record(6, 2, 2)
    with pytest.warns(frames.FrameWarning) as caught:
        df = frames.records_frame([chained_message(bad), chained_message(good)])
    assert len(caught) == 1
    text = str(caught[0].message)
    for field in ("attempt=1", "call_result=1", "dial_sched_time=1", "chain_n=1"):
        assert field in text
    assert df.attrs["invalid"] == {"chain_n": 1, "call_result": 1, "attempt": 1, "dial_sched_time": 1}
    assert df["attempt"].isna().tolist() == [True, False]
    assert df["call_result"].isna().tolist() == [True, False]


def test_numeric_text_and_integral_floats_are_accepted() -> None:
    rec = record(5, 2, 1, attempt="4", call_result=7.0, dial_sched_time=" 1700000000 ")
    with warnings.catch_warnings():
        warnings.simplefilter("error", frames.FrameWarning)
        row = frames.records_frame([chained_message(rec)]).iloc[0]
    assert row["attempt"] == 4 and row["call_result"] == "No Answer"
    assert row["dial_sched_time"] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")


def test_out_of_range_epoch_is_invalid_not_an_error() -> None:
    with pytest.warns(frames.FrameWarning, match="call_time=1"):
        df = frames.records_frame([chained_message(record(5, 2, 1, call_time=10**15))])
    assert pd.isna(df["call_time"].iloc[0])


# --------------------------------------------------------------------------- labels
def test_unknown_code_is_its_number_as_text_and_categories_are_stable() -> None:
    df = frames.records_frame([chained_message(record(5, 2, 1, record_status=77))])
    assert df["record_status"].iloc[0] == "77" and df["record_status_code"].iloc[0] == 77
    categories = list(df["record_status"].cat.categories)
    assert categories[: len(labels.DEFAULT["record_status"])] == list(labels.DEFAULT["record_status"].values())


def test_labels_argument_overrides_for_one_call() -> None:
    msg = chained_message(record(5, 2, 1, call_result=33, record_status=77))
    site = labels.DEFAULT.with_labels("record_status", {77: "Site Special"})
    df = frames.records_frame([msg], labels=site)
    assert df["record_status"].iloc[0] == "Site Special" and df["call_result"].iloc[0] == "Answer"
    replaced = frames.records_frame([msg], labels={"call_result": {33: "Connected"}})
    assert replaced["call_result"].iloc[0] == "Connected"
    assert replaced["record_status"].iloc[0] == "77"  # a plain mapping lists all labels there are
    assert frames.records_frame([msg])["record_status"].iloc[0] == "77"  # the process-wide set is untouched


def test_set_labels_extends_and_replaces_process_wide() -> None:
    msg = chained_message(record(5, 2, 1, call_result=33, contact_info_type=4))
    try:
        labels.set_labels("call_result", {33: "Live"})
        df = frames.records_frame([msg])
        assert df["call_result"].iloc[0] == "Live" and df["contact_info_type"].iloc[0] == "Mobile"
        assert labels.current()["call_result"][6] == "Busy"  # extended, not replaced
        labels.set_labels("contact_info_type", {99: "Other"}, replace=True)
        assert frames.records_frame([msg])["contact_info_type"].iloc[0] == "4"
    finally:
        labels.reset_labels()
    assert labels.current() == labels.DEFAULT
    assert frames.records_frame([msg])["call_result"].iloc[0] == "Answer"


def test_labels_reject_bad_definitions_with_field_named() -> None:
    with pytest.raises(ValueError, match="call_results"):
        labels.set_labels("call_results", {1: "x"})
    with pytest.raises(TypeError, match="'1'"):
        labels.DEFAULT.with_labels("call_result", {"1": "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="label"):
        labels.CodeLabels({"record_type": {1: ""}})
    assert labels.current() == labels.DEFAULT


def test_two_codes_sharing_a_label_make_one_category() -> None:
    site = labels.DEFAULT.with_labels("call_result", {6: "Not reached", 7: "Not reached"})
    msgs = [chained_message(record(5, 2, 1, call_result=6)), chained_message(record(6, 2, 2, call_result=7))]
    df = frames.records_frame(msgs, labels=site)
    assert list(df["call_result"]) == ["Not reached", "Not reached"]
    assert list(df["call_result_code"]) == [6, 7]


# --------------------------------------------------------------------------- metrics / events / calls
def test_metrics_frame_of_results_and_missing_metrics() -> None:
    res = result("ref-M", handle=20, length=2)
    bare = internal_event(99, 3, "ChainedRecord", None)  # empty metrics block
    absent = copy.deepcopy(bare)
    del absent["data"]["metrics"]
    df = frames.metrics_frame([res, bare, absent])
    assert list(df["record_handle"]) == [20, 21, 20, 99, 99]
    assert list(df["user_event"])[:3] == ["ChainedRecord", "ChainedRecord", "ChainedRecordsDataEnd"]
    assert set(df["reference_id"].iloc[:3]) == {"ref-M"} and df["reference_id"].iloc[3:].isna().all()
    assert df["server_generated_at"].iloc[3:].isna().all() and df["delivery_lag_ms"].iloc[3:].isna().all()
    lags = df["delivery_lag_ms"].iloc[:3].astype(float)
    assert ((lags > 0) & (lags < 10)).all()  # the synthetic server stamps 3-4 ms before receipt
    assert dtypes(df) == METRICS_DTYPES
    assert df.attrs == {"skipped": 0, "invalid": {}}


def test_metrics_frame_wrong_types() -> None:
    ev = internal_event(5, 1, "ChainedRecord", 1_433_915_532_887)
    ev["data"]["metrics"]["eventProcessing"]["nodeProcessingTimeNanos"] = "fast"
    other = internal_event(6, 1, "ChainedRecord", None)
    other["data"]["metrics"] = ["not", "a", "dict"]
    with pytest.warns(frames.FrameWarning):
        df = frames.metrics_frame([ev, other])
    assert df.attrs["invalid"] == {"metrics": 1, "node_processing_ms": 1}
    assert pd.isna(df["node_processing_ms"].iloc[0]) and df["server_processing_ms"].iloc[0] == 3.0


def test_events_frame_of_result() -> None:
    res = result(length=2)
    df = res.events_frame()
    assert len(df) == len(res.events) == 6
    assert list(df["channel"]) == ["/v2/me/outbound", "/me/internal"] * 3
    assert list(df["notification_type"].dropna()) == ["ChainedRecord", "ChainedRecord", "ChainedRecordsDataEnd"]
    assert df["received_at"].iloc[0] == pd.Timestamp(res.events[0].received_at, unit="s", tz="UTC").round("us")
    assert df["received_at"].is_monotonic_increasing
    assert dtypes(df) == EVENTS_DTYPES


class FakeCallError(Exception):
    def __init__(self, message: str, partial: Any, handle: int | None) -> None:
        super().__init__(message)
        self.result = partial
        if handle is not None:
            self.record_handle = handle


def test_calls_frame_mixes_results_and_errors() -> None:
    ok = result("r1", handle=7, length=3)
    partial = result("r2", handle=8, length=1, complete=False)
    items = [ok, FakeCallError("timed out", partial, None), FakeCallError("bad handle", None, 99), partial, "x"]
    df = frames.calls_frame(items)
    assert list(df["record_handle"]) == [7, 8, 99, 8]
    assert list(df["status"]) == ["ok", "error", "error", "error"]
    assert pd.isna(df["error"].iloc[0])
    assert df["error"].iloc[1] == "FakeCallError: timed out"
    assert df["error"].iloc[3].startswith("IncompleteResult")
    assert list(df["records"].fillna(-1)) == [3, 1, -1, 1]
    assert df["http_ms"].iloc[0] == ok.timings.http_ms == pytest.approx(5.0, abs=1e-3)
    assert pd.isna(df["total_ms"].iloc[1]) and pd.isna(df["sent"].iloc[2])
    assert df["sent"].iloc[0] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")
    assert df.attrs["skipped"] == 1
    assert dtypes(df) == CALLS_DTYPES
    assert df["covered_by"].isna().all()


def test_calls_frame_shows_covered_handles() -> None:
    ok = result("r1", handle=7, length=3)
    df = frames.calls_frame([ok, CoveredHandle(8, covered_by=7)])
    assert list(df["status"]) == ["ok", "covered"] and list(df["record_handle"]) == [7, 8]
    assert pd.isna(df["covered_by"].iloc[0]) and df["covered_by"].iloc[1] == 7
    assert pd.isna(df["reference_id"].iloc[1]) and pd.isna(df["records"].iloc[1]) and pd.isna(df["error"].iloc[1])
    assert dtypes(df) == CALLS_DTYPES


# --------------------------------------------------------------------------- files
def sample_records_frame() -> pd.DataFrame:
    msgs = [chained_message(record(5, 2, 1, record_status=77)), chained_message(record(6, 2, 2, attempt=None))]
    return frames.records_frame([result(length=2), *msgs])


def test_parquet_round_trip_keeps_every_dtype(tmp_path: Path) -> None:
    for df in (sample_records_frame(), frames.metrics_frame([result()]), frames.calls_frame([result()])):
        path = tmp_path / "frame.parquet"
        df.to_parquet(path)
        back = pd.read_parquet(path)
        assert dtypes(back) == dtypes(df)
        pd.testing.assert_frame_equal(back, df, check_categorical=True)


# CSV keeps values but not dtypes: Categorical labels, nullable integers (int64, or float64 when a value
# is missing), strings (str), tz-aware datetimes and durations (text) come back as plain types unless
# the reader is given the dtype map and the datetime/duration parsing below. Category lists (the unused
# labels) are lost for good.


def test_csv_round_trip_values_with_a_dtype_map(tmp_path: Path) -> None:
    df = sample_records_frame()
    path = tmp_path / "frame.csv"
    df.to_csv(path, index=False)
    raw = pd.read_csv(path)
    assert any(str(raw[c].dtype) != str(df[c].dtype) for c in df.columns)  # CSV alone loses dtypes
    back = pd.read_csv(path, dtype={c: str(t) for c, t in df.dtypes.items() if str(t) in {"Int64", "string", "category", "boolean"}})
    for column in df.columns:
        kind = str(df[column].dtype)
        if kind == UTC:
            back[column] = pd.to_datetime(back[column], utc=True).astype(UTC)
        elif kind == TD:
            back[column] = pd.to_timedelta(back[column]).astype(TD)
    for column in df.columns:
        if str(df[column].dtype) == "category":
            assert back[column].astype("string").tolist() == df[column].astype("string").tolist()
        else:
            assert back[column].tolist() == df[column].tolist(), column
            assert str(back[column].dtype) == str(df[column].dtype), column


def test_calls_frame_with_the_client_error_classes() -> None:
    from gwsnb.errors import NotificationTimeout

    partial = result("r9", handle=12, length=2, complete=False)
    timeout = NotificationTimeout("no ChainedRecordsDataEnd within 5 s", result=partial, record_handle=12)
    no_result = NotificationTimeout("no answer", record_handle=None)
    df = frames.calls_frame([timeout, no_result])
    assert list(df["record_handle"].fillna(-1)) == [12, -1]
    assert df["error"].iloc[0].startswith("NotificationTimeout: no ChainedRecordsDataEnd")
    assert df["records"].iloc[0] == 2 and df["reference_id"].iloc[0] == "r9"
    assert list(df["status"]) == ["error", "error"]


def test_portable_column_path_gives_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    msgs = [chained_message(record(n, 1, n, **({"extra": n} if n % 2 else {}))) for n in range(1, 8)]
    msgs[3]["data"]["record"]["userData"]["attempt"] = float("nan")  # a payload NaN is a wrong value, not absence
    with pytest.warns(frames.FrameWarning):
        fast = frames.records_frame(msgs)
    monkeypatch.setattr(_columns, "_use_pandas_table", False)
    with pytest.warns(frames.FrameWarning):
        portable = frames.records_frame(msgs)
    pd.testing.assert_frame_equal(fast, portable)
    assert fast.attrs == portable.attrs == {"skipped": 0, "invalid": {"attempt": 1}}
    assert list(fast["extra"].fillna(-1)) == [1, -1, 3, -1, 5, -1, 7]


def test_private_pandas_helper_matches_the_portable_columns() -> None:
    """Pins what gwsnb assumes of ``pandas._libs.lib.dicts_to_array`` (the one private pandas function it
    uses): same values as the per-key path, absent keys as None, payload NaN / None / nested values kept."""
    nan = float("nan")
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": "x", "c": [1, 2], "d": None, "e": nan, "f": {"k": "é"}},
        {"a": 2, "c": (3,), "e": 1.5},  # b, d, f absent
        {},
        {"f": "only f", "a": True, "b": 0},
    ]
    keys = ["a", "b", "c", "d", "e", "f"]
    table = _columns._pandas_dicts_table(rows, keys)
    assert table is not None, "pandas' dicts_to_array is gone or changed: frames use the slower portable path"
    portable = {key: _columns._column(rows, key) for key in keys}
    for j, key in enumerate(keys):
        got, want = table[:, j].tolist(), portable[key]
        assert len(got) == len(want)
        for value, expected in zip(got, want, strict=True):
            if isinstance(expected, float) and math.isnan(expected):
                assert isinstance(value, float) and math.isnan(value), key  # a payload NaN stays a value
            else:
                assert value is expected or value == expected, (key, value, expected)
                assert type(value) is type(expected), (key, value, expected)
    assert _columns._columns(rows, keys)["c"][0] == [1, 2]  # a list stays one value


def test_the_data_model_does_not_import_its_views() -> None:
    """frames, plots and _render import the data model, never the reverse: results and batch reach them only
    through ``results._view`` on first use (so no import cycle, and no pandas or matplotlib at import)."""
    import ast
    import subprocess
    import sys

    import gwsnb

    code = ("import sys, gwsnb.results, gwsnb.batch; print(' '.join(m for m in ('gwsnb.frames', 'gwsnb.plots', "
            "'gwsnb._display.render', 'pandas', 'matplotlib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert loaded.split() == []
    views = {"frames", "plots", "_display", "render"}
    for name in ("results.py", "batch.py"):
        tree = ast.parse((Path(gwsnb.__file__).parent / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (views & {node.module or "", *(a.name for a in node.names)}), (name, node.lineno)
            elif isinstance(node, ast.Import):
                assert not any(a.name.split(".")[-1] in views for a in node.names), (name, node.lineno)
