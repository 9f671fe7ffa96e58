"""Property-based tests: generated payloads with missing, extra, null and wrongly typed fields."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwsnb import frames

from .test_frames import METRICS_DTYPES, RECORD_DTYPES, dtypes

ABSENT = object()  # marks a key left out of the payload

INT_FIELDS = ("chain_id", "chain_n", "attempt", "tz_dbid", "contact_info_type", "record_type", "record_status",
              "call_result")
EPOCH_FIELDS = ("dial_sched_time", "call_time")
SECONDS_FIELDS = ("daily_from", "daily_till")
STR_FIELDS = ("contact_info",)

wrong_for_int = st.sampled_from([[1], {"a": 1}, True, False, 1.5, "abc", "", "1e3", float("nan")])
wrong_for_str = st.sampled_from([1.5, True, [1], {"a": "b"}])


def field(valid: st.SearchStrategy[Any], wrong: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """(kind, value): kind is 'absent', 'null', 'valid' or 'wrong'."""
    return st.one_of(
        st.just(("absent", ABSENT)),
        st.just(("null", None)),
        valid.map(lambda v: ("valid", v)),
        wrong.map(lambda v: ("wrong", v)),
    )


FIELD_STRATEGIES: dict[str, st.SearchStrategy[tuple[str, Any]]] = {
    **{name: field(st.integers(-(2**40), 2**40), wrong_for_int) for name in INT_FIELDS},
    **{name: field(st.integers(0, 4_000_000_000), wrong_for_int) for name in EPOCH_FIELDS},
    **{name: field(st.integers(0, 86_400), wrong_for_int) for name in SECONDS_FIELDS},
    **{name: field(st.text(max_size=8), wrong_for_str) for name in STR_FIELDS},
}
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                        st.text(max_size=5))
extras = st.dictionaries(st.text(min_size=1, max_size=6).map(lambda k: "x_" + k), json_scalar, max_size=3)


@st.composite
def chained_record(draw: st.DrawFn) -> tuple[dict[str, Any], Counter[str]]:
    """A valid ChainedRecord message (possibly with bad values) and the wrong-typed count per column."""
    wrong: Counter[str] = Counter()
    user_data: dict[str, Any] = dict(draw(extras))
    for name, strategy in FIELD_STRATEGIES.items():
        kind, value = draw(strategy)
        if kind != "absent":
            user_data[name] = value
        if kind == "wrong":
            wrong[name] += 1
    handle_kind, handle = draw(field(st.integers(0, 2**31), wrong_for_int))
    rec: dict[str, Any] = {"campaignName": "Campaign1", "callingList": "L"}
    if handle_kind != "absent":
        rec["recordHandle"] = handle
    if handle_kind == "wrong":
        wrong["record_handle"] += 1
    ud_shape = draw(st.sampled_from(["dict", "dict", "dict", "absent", "null", "wrong"]))
    if ud_shape == "dict":
        rec["userData"] = user_data
    else:
        wrong = Counter({"record_handle": wrong["record_handle"]}) if wrong["record_handle"] else Counter()
        if ud_shape == "null":
            rec["userData"] = None
        elif ud_shape == "wrong":
            rec["userData"] = "not a map"
            wrong["userData"] += 1
    reference = draw(st.one_of(st.none(), st.text(max_size=4), st.integers(0, 99)))
    message = {"channel": "/v2/me/outbound",
               "data": {"messageType": "OutboundRecordMessage", "notificationType": "ChainedRecord",
                        "referenceId": reference, "record": rec}}
    return message, wrong


noise = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.just({"channel": "/meta/connect", "successful": True}),
    st.just({"channel": "/v2/me/outbound", "data": {"notificationType": "ChainedRecordsDataEnd", "record": {}}}),
    st.just({"channel": "/v2/me/outbound", "data": {"notificationType": "ChainedRecord", "record": "x"}}),
    st.just({"channel": "/v2/me/outbound", "data": "not a dict"}),
)


@st.composite
def payload_mix(draw: st.DrawFn) -> tuple[list[Any], int, int, Counter[str]]:
    items: list[Any] = []
    valid = skipped = 0
    wrong: Counter[str] = Counter()
    for is_record in draw(st.lists(st.booleans(), max_size=25)):
        if is_record:
            message, bad = draw(chained_record())
            items.append(message)
            valid += 1
            wrong += bad
        else:
            items.append(draw(noise))
            skipped += 1
    return items, valid, skipped, wrong


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload_mix())
def test_records_frame_tolerates_generated_payloads(mix: tuple[list[Any], int, int, Counter[str]]) -> None:
    items, valid, skipped, wrong = mix
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = frames.records_frame(items)
    assert len(df) == valid
    assert df.attrs["skipped"] == skipped
    assert df.attrs["invalid"] == dict(wrong)
    frame_warnings = [w for w in caught if issubclass(w.category, frames.FrameWarning)]
    assert len(frame_warnings) == (1 if wrong else 0)
    if wrong:
        text = str(frame_warnings[0].message)
        assert all(f"{name}={count}" in text for name, count in wrong.items())
    assert dtypes(df, list(RECORD_DTYPES)) == RECORD_DTYPES
    # a valid integer is kept exactly; a null, absent or wrongly typed one is missing
    code_fields = ("contact_info_type", "record_type", "record_status", "call_result")
    for row, item in zip(df.itertuples(index=False), [i for i in items if _is_record(i)], strict=True):
        ud = item["data"]["record"].get("userData")
        ud = ud if isinstance(ud, dict) else {}
        for name in INT_FIELDS:
            value = ud.get(name)
            kept = getattr(row, f"{name}_code" if name in code_fields else name)
            if isinstance(value, int) and not isinstance(value, bool):
                assert kept == value
            else:
                assert pd.isna(kept)


def _is_record(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("data"), dict)
            and item["data"].get("notificationType") == "ChainedRecord"
            and isinstance(item["data"].get("record"), dict))


metric_value = st.one_of(st.none(), st.integers(0, 2**42), st.sampled_from(["x", [1], {"a": 1}, True]))


@st.composite
def internal_message(draw: st.DrawFn) -> dict[str, Any]:
    processing = {key: draw(metric_value) for key in
                  ("serverGenerationTimestamp", "nodeProcessingTimeNanos", "serverProcessingTimeTotalMs")}
    processing = {k: v for k, v in processing.items() if draw(st.booleans())}
    metrics = draw(st.sampled_from(["full", "empty", "absent", "wrong"]))
    data: dict[str, Any] = {"messageType": "DeviceUserEventMessage",
                            "userData": {"GSW_RECORD_HANDLE": draw(metric_value), "GSW_USER_EVENT": "X"}}
    if metrics == "full":
        data["metrics"] = {"eventProcessing": processing}
    elif metrics == "empty":
        data["metrics"] = {}
    elif metrics == "wrong":
        data["metrics"] = "nope"
    return {"channel": "/me/internal", "data": data}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(internal_message(), noise), max_size=20))
def test_metrics_frame_tolerates_generated_events(items: list[Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", frames.FrameWarning)
        df = frames.metrics_frame(items)
    events = sum(1 for i in items if isinstance(i, dict) and isinstance(i.get("data"), dict)
                 and i["data"].get("messageType") == "DeviceUserEventMessage")
    assert len(df) == events
    assert df.attrs["skipped"] == len(items) - events
    assert dtypes(df) == METRICS_DTYPES
