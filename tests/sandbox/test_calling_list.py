"""The sandbox's calling lists: seeded generation, chain lookup, CSV/DataFrame loading and its errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwsnb import frames
from gwsnb.protocol import OCS_COLUMNS
from gwsnb.sandbox import Sandbox
from gwsnb.sandbox._calling_list import (
    LOAD_DEFAULTS,
    TIME_ZONES,
    CallingList,
    CallingListError,
)

from .conftest import RawGws, data_end_seen

INT_COLUMNS = [c for c in OCS_COLUMNS if c not in ("contact_info", "dial_sched_time", "call_time")]


@pytest.fixture(scope="module")
def big() -> CallingList:
    return CallingList.generate(chains=3000, seed=42)


def _frame_chain(cl: CallingList, handle: int) -> list[dict[str, Any]]:
    """The chain of ``handle`` computed the slow way, straight from the frame."""
    frame = cl.frame
    chain_id = frame.loc[frame["record_handle"] == handle, "chain_id"].iloc[0]
    rows = frame[frame["chain_id"] == chain_id].sort_values("chain_n")
    out = []
    for rec in rows.astype(object).to_dict("records"):
        out.append(
            {
                k: (None if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))) else v)
                for k, v in rec.items()
            }
        )
    return out


# -- generation -----------------------------------------------------------------------------------------


def test_same_seed_gives_identical_frame() -> None:
    a = CallingList.generate(chains=500, seed=7)
    b = CallingList.generate(chains=500, seed=7)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.custom_fields == b.custom_fields


def test_different_seed_gives_different_frame() -> None:
    a = CallingList.generate(chains=500, seed=7)
    b = CallingList.generate(chains=500, seed=8)
    assert not a.frame.equals(b.frame)


def test_columns_order_and_types(big: CallingList) -> None:
    frame = big.frame
    assert list(frame.columns) == ["record_handle", *OCS_COLUMNS, *big.custom_fields]
    assert isinstance(frame.index, pd.RangeIndex)
    assert len(frame) == len(big)
    for c in ["record_handle", *INT_COLUMNS]:
        assert pd.api.types.is_integer_dtype(frame[c].dtype), c
        assert frame[c].notna().all(), c
    for c in ("dial_sched_time", "call_time"):
        assert pd.api.types.is_integer_dtype(frame[c].dtype), c
    assert pd.api.types.is_string_dtype(frame["contact_info"].dtype)
    assert frame["contact_info"].str.fullmatch(r"\+1[2-9][0-9]{2}55501[0-9]{2}").all()
    assert frame["record_handle"].is_unique and (frame["record_handle"] > 0).all()


def test_value_domains(big: CallingList) -> None:
    f = big.frame
    assert f["contact_info_type"].between(0, 11).all()
    assert f["record_type"].between(0, 7).all()
    assert f["record_status"].between(0, 9).all()
    assert f["record_type"].value_counts().idxmax() == 2  # mostly General
    assert f["record_status"].value_counts().idxmax() == 1  # mostly Ready
    assert f["contact_info_type"].isin([1, 2, 4]).mean() > 0.8  # mostly home / business / mobile
    never = f["attempt"] == 0
    assert never.any() and (~never).any()
    assert f.loc[never, "call_time"].isna().all()  # never dialled: no call_time
    assert f.loc[~never, "call_time"].notna().all()
    assert (f.loc[never, "call_result"] == 28).all()
    assert set(f.loc[~never, "call_result"]) <= {33, 7, 9, 6, 26, 8, 21, 17, 53}
    assert (f["daily_from"] < f["daily_till"]).all()
    assert f["daily_till"].between(0, 86_400).all()
    assert set(f["tz_dbid"]) <= set(TIME_ZONES)
    # one customer, one time zone
    assert (f.groupby("chain_id")["tz_dbid"].nunique() == 1).all()


def test_record_types_follow_ocs(big: CallingList) -> None:
    """Ordinary records are 2 General; only the rescheduled and callback records (3-6) carry
    dial_sched_time; never-dialled records are never rescheduled or callbacks."""
    f = big.frame
    counts = f["record_type"].value_counts()
    assert counts[2] / len(f) > 0.8
    assert set(counts.index) == set(range(8))  # every OCS record type occurs in a list this size
    scheduled = f["record_type"].between(3, 6)
    assert f.loc[scheduled, "dial_sched_time"].notna().all()
    assert f.loc[~scheduled, "dial_sched_time"].isna().all()
    assert not (scheduled & (f["attempt"] == 0)).any()
    assert LOAD_DEFAULTS["record_type"] == 2


def test_sandbox_records_are_labelled_general_over_the_wire(sb: Sandbox, gws: RawGws) -> None:
    """A chain fetched from a running sandbox, labelled by gwsnb.frames: record_type 2 reads "General",
    a record carrying dial_sched_time reads as one of the rescheduled/callback types."""
    df = sb.calling_list
    has_scheduled = df.groupby("chain_id")["record_type"].transform(lambda t: t.between(3, 6).any())
    has_general = df.groupby("chain_id")["record_type"].transform(lambda t: (t == 2).any())
    handle = int(df.loc[has_scheduled & has_general, "record_handle"].iloc[0])
    gws.open()
    assert gws.get_chained_record(handle).json() == {"statusCode": 0}
    got = gws.collect(data_end_seen)

    records = frames.records_frame(got)
    assert len(records) == int((df["chain_id"] == df.loc[df["record_handle"] == handle, "chain_id"].iloc[0]).sum())
    general = records["record_type_code"] == 2
    assert general.any() and (records.loc[general, "record_type"] == "General").all()
    scheduled = records["dial_sched_time"].notna()
    assert scheduled.any()
    assert set(records.loc[scheduled, "record_type"]) <= {
        "Campaign Rescheduled", "Personal Rescheduled", "Personal Callback", "Campaign Callback"
    }


def test_chain_lengths_and_numbering(big: CallingList) -> None:
    f = big.frame
    sizes = f.groupby("chain_id").size()
    assert sizes.between(1, 6).all()
    assert big.chain_count == len(sizes)
    counts = sizes.value_counts()
    assert all(counts.get(k, 0) > counts.get(k + 1, 0) for k in range(1, 6))  # decreasing
    # chain_n contiguous from 0, rows sorted by (chain_id, chain_n)
    expected = f.groupby("chain_id").cumcount()
    assert (f["chain_n"] == expected).all()
    assert f[["chain_id", "chain_n"]].apply(tuple, axis=1).is_monotonic_increasing


@pytest.mark.parametrize("seed", range(12))
def test_custom_fields_mixed(seed: int) -> None:
    cl = CallingList.generate(chains=50, seed=seed)
    assert 2 <= len(cl.custom_fields) <= 4
    kinds = set()
    for c in cl.custom_fields:
        dtype = cl.frame[c].dtype
        if pd.api.types.is_integer_dtype(dtype):
            kinds.add("int")
        elif pd.api.types.is_float_dtype(dtype):
            kinds.add("float")
        else:
            assert pd.api.types.is_string_dtype(dtype)
            kinds.add("text")
    assert "text" in kinds and kinds & {"int", "float"}
    if len(cl.custom_fields) >= 3:
        assert kinds == {"text", "int", "float"}


def test_custom_field_count_varies_with_seed() -> None:
    assert len({len(CallingList.generate(chains=5, seed=s).custom_fields) for s in range(40)}) == 3


def test_generate_rejects_bad_chain_count() -> None:
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chains"):
            CallingList.generate(chains=bad, seed=1)  # type: ignore[arg-type]


# -- lookup ---------------------------------------------------------------------------------------------


def test_chain_matches_frame(big: CallingList) -> None:
    rng = np.random.default_rng(0)
    for handle in rng.choice(big.frame["record_handle"].to_numpy(), size=40, replace=False).tolist():
        got = big.chain(handle)
        assert got == _frame_chain(big, handle)
        assert any(r["record_handle"] == handle for r in got)
        assert all(list(r) == list(big.frame.columns) for r in got)
        assert [r["chain_n"] for r in got] == sorted(r["chain_n"] for r in got)


def test_chain_returns_json_native_values(big: CallingList) -> None:
    seen_none = False
    for handle in range(1, 400):
        chain = big.chain(handle)
        assert chain is not None
        text = json.dumps(chain, allow_nan=False)  # NaN would raise
        assert json.loads(text) == chain
        for rec in chain:
            for v in rec.values():
                assert v is None or type(v) in (int, float, str), (type(v), v)
                seen_none |= v is None
    assert seen_none  # the nullable columns really produced None, not NaN


def test_chain_unknown_handles(big: CallingList) -> None:
    for bad in (0, -1, len(big) + 1, 10**30, "7", 7.0, None, True):
        assert big.chain(bad) is None  # type: ignore[arg-type]
        assert bad not in big
    assert big.chain(np.int64(1)) == big.chain(1)


def test_record(big: CallingList) -> None:
    rec = big.record(7)
    assert rec is not None and rec["record_handle"] == 7
    assert rec in big.chain(7)  # type: ignore[operator]
    assert big.record(0) is None


def test_sample_handles(big: CallingList) -> None:
    handles = big.sample_handles()
    assert handles == big.sample_handles()
    assert len(handles) == 5 == len(set(handles))
    assert all(h in big for h in handles)
    assert len(big.chain(handles[0]) or []) >= 3
    assert len(big.sample_handles(12)) == 12
    assert big.sample_handles(0) == []
    with pytest.raises(ValueError):
        big.sample_handles(-1)


def test_sample_handles_small_lists() -> None:
    for seed in range(20):
        cl = CallingList.generate(chains=2, seed=seed)
        handles = cl.sample_handles(10)
        assert sorted(handles) == sorted(cl.frame["record_handle"].tolist())  # all of them, no repeat
        if (cl.frame.groupby("chain_id").size() >= 3).any():
            assert len(cl.chain(handles[0]) or []) >= 3


def test_time_zone(big: CallingList) -> None:
    tz = int(big.frame["tz_dbid"].iloc[0])
    name, offset = big.time_zone(tz)
    assert (name, offset) == TIME_ZONES[tz]
    assert isinstance(name, str) and isinstance(offset, int) and offset % 1800 == 0
    with pytest.raises(KeyError):
        big.time_zone(999)


# -- loading --------------------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path) -> None:
    cl = CallingList.generate(chains=400, seed=3)
    path = tmp_path / "list.csv"
    cl.frame.to_csv(path, index=False)
    back = CallingList.load(path)
    assert back.name == "list"
    assert back.custom_fields == cl.custom_fields
    assert back.chain_count == cl.chain_count and len(back) == len(cl)
    for h in cl.sample_handles(30) + list(range(1, 60)):
        assert back.chain(h) == cl.chain(h)
    pd.testing.assert_frame_equal(back.frame, cl.frame, check_dtype=False)


def test_dataframe_round_trip_with_record_id_alias_and_shuffle() -> None:
    cl = CallingList.generate(chains=200, seed=5)
    shuffled = cl.frame.sample(frac=1.0, random_state=1).rename(columns={"record_handle": "record_id"})
    shuffled["record_id"] = shuffled["record_id"] * 10 + 3  # handles need not be a contiguous range
    back = CallingList.load(shuffled, name="Other")
    assert back.name == "Other"
    for h in cl.sample_handles(20):
        original = cl.chain(h)
        assert original is not None
        got = back.chain(h * 10 + 3)
        assert got is not None
        assert [{**r, "record_handle": r["record_handle"] * 10 + 3} for r in original] == got
    assert back.chain(1) is None


def test_minimal_csv_gets_defaults_and_assigned_handles(tmp_path: Path) -> None:
    path = tmp_path / "mini.csv"
    path.write_text(
        "chain_id,chain_n,contact_info,note\n5,1,+12125550101,later\n5,0,647000,\n2,0,+13125550102,x\n"
    )
    cl = CallingList.load(path)
    assert cl.custom_fields == ("note",)
    assert cl.frame["record_handle"].tolist() == [1, 2, 3]  # assigned in (chain_id, chain_n) order
    chain = cl.chain(2)
    assert chain is not None
    assert [r["contact_info"] for r in chain] == ["647000", "+12125550101"]  # text kept verbatim
    assert [r["note"] for r in chain] == [None, "later"]  # empty cell: missing
    for k, v in LOAD_DEFAULTS.items():
        assert chain[0][k] == v


def test_custom_field_types_inferred_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("chain_id,chain_n,contact_info,i,f,s,z\n1,0,1,7,1.5,a,007\n1,1,2,,2,b,010\n")
    cl = CallingList.load(path)
    chain = cl.chain(1)
    assert chain is not None
    assert [r["i"] for r in chain] == [7, None]
    assert [r["f"] for r in chain] == [1.5, 2.0]
    assert [r["s"] for r in chain] == ["a", "b"]
    assert [r["z"] for r in chain] == ["007", "010"]  # leading zeros: text, not numbers
    assert list(chain[0]) == list(cl.frame.columns)  # keys in frame order, float column in the middle
    json.dumps(chain, allow_nan=False)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


HEADER = "record_handle,chain_id,chain_n,contact_info,call_time\n"


@pytest.mark.parametrize(
    ("body", "row", "column", "value"),
    [
        ("1,1,0,+12125550101,\n2,1,x1,+12125550102,\n", 2, "chain_n", "x1"),
        ("1,1,0,+12125550101,\n2,1,1.5,+12125550102,\n", 2, "chain_n", "1.5"),
        ("1,1,0,+12125550101,\n2,1,,+12125550102,\n", 2, "chain_n", ""),
        ("1,1,0,+12125550101,\n2,1,-1,+12125550102,\n", 2, "chain_n", "-1"),
        ("1,1,0,+12125550101,\n2,1,1,+12125550102,\n3,1,0,+12125550103,\n", 3, "chain_id, chain_n", (1, 0)),
        ("1,1,0,+12125550101,\n1,2,0,+12125550102,\n", 2, "record_handle", "1"),
        ("0,1,0,+12125550101,\n", 1, "record_handle", "0"),
        ("1,1,0,+12125550101,yesterday\n", 1, "call_time", "yesterday"),
        ("1,1,0,+12125550101,\n2,2,0,,\n", 2, "contact_info", ""),
        ("1,1,0,+12125550101,\n2,abc,0,+12125550102,\n", 2, "chain_id", "abc"),
    ],
)
def test_bad_csv_names_row_column_value(
    tmp_path: Path, body: str, row: int, column: str, value: object
) -> None:
    with pytest.raises(CallingListError) as info:
        CallingList.load(_write(tmp_path, HEADER + body))
    err = info.value
    assert (err.row, err.column, err.value) == (row, column, value)
    message = str(err)
    assert f"row {row}" in message and repr(column) in message and repr(value) in message


@pytest.mark.parametrize("missing", ["contact_info", "chain_id", "chain_n"])
def test_missing_required_column(tmp_path: Path, missing: str) -> None:
    cols = ["chain_id", "chain_n", "contact_info"]
    values = {"chain_id": "1", "chain_n": "0", "contact_info": "+12125550101"}
    kept = [c for c in cols if c != missing]
    path = _write(tmp_path, ",".join(kept) + "\n" + ",".join(values[c] for c in kept) + "\n")
    with pytest.raises(CallingListError) as info:
        CallingList.load(path)
    assert info.value.column == missing and info.value.row is None
    assert repr(missing) in str(info.value) and "header" in str(info.value)


def test_bad_values_in_other_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "chain_id,chain_n,contact_info,tz_dbid,daily_from\n1,0,1,101,0\n2,0,1,777,0\n")
    with pytest.raises(CallingListError, match=r"row 2, column 'tz_dbid': '777'"):
        CallingList.load(path)
    path = _write(tmp_path, "chain_id,chain_n,contact_info,daily_from\n1,0,1,90000\n")
    with pytest.raises(CallingListError, match=r"row 1, column 'daily_from': '90000' is out of range"):
        CallingList.load(path)


def test_reserved_and_ambiguous_columns() -> None:
    base = {"chain_id": [1], "chain_n": [0], "contact_info": ["+12125550101"]}
    with pytest.raises(CallingListError, match="GSW_PHONE"):
        CallingList.load(pd.DataFrame({**base, "GSW_PHONE": ["x"]}))
    with pytest.raises(CallingListError, match="record_id"):
        CallingList.load(pd.DataFrame({**base, "record_handle": [1], "record_id": [1]}))


def test_bad_dataframe_values() -> None:
    with pytest.raises(CallingListError) as info:
        CallingList.load(
            pd.DataFrame({"chain_id": [1, 2], "chain_n": [0.0, 0.5], "contact_info": ["a", "b"]})
        )
    assert (info.value.row, info.value.column, info.value.value) == (2, "chain_n", 0.5)
    with pytest.raises(CallingListError) as info:
        CallingList.load(pd.DataFrame({"chain_id": [1, 2], "chain_n": [0, 0], "contact_info": ["a", 1.5]}))
    assert (info.value.row, info.value.column, info.value.value) == (2, "contact_info", 1.5)
    with pytest.raises(CallingListError) as info:
        CallingList.load(
            pd.DataFrame(
                {"chain_id": [1, 2], "chain_n": [0, 0], "contact_info": ["a", "b"], "x": [1.0, np.inf]}
            )
        )
    assert (info.value.row, info.value.column) == (2, "x")


# -- properties over arbitrary loaded lists --------------------------------------------------------------


@st.composite
def _lists(draw: st.DrawFn) -> pd.DataFrame:
    keys = draw(
        st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8)), min_size=1, max_size=40, unique=True)
    )
    handles = draw(st.lists(st.integers(1, 10**12), min_size=len(keys), max_size=len(keys), unique=True))
    extra = draw(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=len(keys), max_size=len(keys)))
    return pd.DataFrame(
        {
            "record_handle": handles,
            "chain_id": [k[0] for k in keys],
            "chain_n": [k[1] for k in keys],
            "contact_info": [f"+1212555{100 + i % 100:04d}" for i in range(len(keys))],
            "extra": pd.array(extra, dtype="float64"),
        }
    )


@settings(max_examples=60, deadline=None)
@given(_lists())
def test_loaded_chains_match_the_source(df: pd.DataFrame) -> None:
    cl = CallingList.load(df)
    assert len(cl) == len(df) and cl.chain_count == df["chain_id"].nunique()
    for handle, chain_id in zip(df["record_handle"], df["chain_id"], strict=True):
        chain = cl.chain(int(handle))
        assert chain is not None
        expected = df[df["chain_id"] == chain_id].sort_values("chain_n")
        assert [r["record_handle"] for r in chain] == expected["record_handle"].tolist()
        assert [r["chain_n"] for r in chain] == expected["chain_n"].tolist()
        json.dumps(chain, allow_nan=False)
    assert cl.chain(int(df["record_handle"].max()) + 1) is None
    handles = cl.sample_handles(3)
    assert len(handles) == min(3, len(df)) == len(set(handles))
