"""Issue 26, item 3: a comparison's changes read by pages (``changes(limit=, where=, after=)``) or written to
Parquet by DuckDB (``to_parquet``) hold exactly what ``changes_frame()`` holds; ``where`` is column/value
pairs whose values are parameters, never SQL; the transition heatmap's colour bar reads record counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import gwsnb
from gwsnb.progress import Comparison
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, heads, run


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Comparison]:
    folder = tmp_path_factory.mktemp("pages")
    with Sandbox(chains=120, seed=11, password=PASSWORD) as sb:
        handles = heads(sb)
        run(sb, handles, folder / "morning")
        sb.advance(hours=6, seed=3)  # the dialer's afternoon: many records change
        run(sb, handles[5:] + [], folder / "afternoon")  # the first five chains not read again: gone
    result = gwsnb.compare_runs(folder / "morning", folder / "afternoon")
    yield result
    result.close()


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False)


def test_the_pages_put_together_are_the_whole_changes(comparison: Comparison) -> None:
    whole = comparison.changes_frame()
    assert comparison.changed == len(whole) > 20
    pages = [comparison.changes(7)]
    while len(pages[-1]) == 7:
        pages.append(comparison.changes(7, after=int(pages[-1]["record_handle"].iloc[-1])))
    assert all(len(p) <= 7 for p in pages) and len(pages) >= 3
    together = pd.concat(pages, ignore_index=True)
    _same(together, whole)
    assert list(together.dtypes) == list(whole.dtypes)
    assert comparison.changes(10**6).shape == whole.shape


def test_where_filters_by_columns_and_values(comparison: Comparison) -> None:
    whole = comparison.changes_frame()
    updated = comparison.changes(10**6, where={"record_status_after": "Updated"})
    _same(updated, whole[whole["record_status_after"] == "Updated"])
    assert len(updated) > 0
    codes = sorted(set(whole["call_result_code_after"].dropna().astype(int)))[:2]
    several = comparison.changes(10**6, where={"call_result_code_after": codes, "record_status_after": "Updated"})
    _same(several, whole[whole["call_result_code_after"].isin(codes) & (whole["record_status_after"] == "Updated")])
    unscheduled = comparison.changes(10**6, where={"dial_sched_time_after": None})
    _same(unscheduled, whole[whole["dial_sched_time_after"].isna()])


def test_a_value_is_never_sql(comparison: Comparison) -> None:
    assert comparison.changes(10**6, where={"record_status_after": "Updated' OR 1=1 --"}).empty
    assert comparison.changes(10**6, where={"record_status_after": ["x') OR (1=1"]}).empty


@pytest.mark.parametrize("where, named", [
    ({"record_status_after = 'x' OR 1=1 --": "x"}, "record_status_after = 'x' OR 1=1 --"),  # a key must be a column
    ({"no_such_column": 1}, "no_such_column"),
    ({"record_status_after": []}, "record_status_after"),
    ("record_status_after = 'Updated'", "record_status_after = 'Updated'"),  # SQL text is not a mapping
])
def test_a_bad_where_is_refused_naming_it(comparison: Comparison, where: object, named: str) -> None:
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        comparison.changes(10, where=where)  # type: ignore[arg-type]
    assert info.value.field == "where" and named in str(info.value)


@pytest.mark.parametrize("kwargs, field", [({"limit": 0}, "limit"), ({"limit": "5"}, "limit"),
                                           ({"after": 1.5}, "after")])
def test_bad_paging_is_refused(comparison: Comparison, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        comparison.changes(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_own_sql_over_the_changes_view(comparison: Comparison) -> None:
    counted = comparison.sql("select count(*) as n from changes where attempt_after > ?", [0])
    whole = comparison.changes_frame()
    assert int(counted["n"].iloc[0]) == int((whole["attempt_after"] > 0).sum())


def test_to_parquet_writes_what_the_frames_hold(comparison: Comparison, tmp_path: Path) -> None:
    written = comparison.to_parquet(tmp_path / "out")
    assert sorted(written) == ["added", "changes", "gone"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["added.parquet", "changes.parquet", "gone.parquet"]
    changes = pq.read_table(written["changes"]).to_pandas()
    whole = comparison.changes_frame()
    assert list(changes.columns) == list(whole.columns)
    assert changes["record_handle"].tolist() == whole["record_handle"].tolist()
    for column in ("record_status_after", "call_result_before", "attempt_after"):
        assert changes[column].astype("string").fillna("").tolist() == whole[column].astype("string").fillna("").tolist()
    gone = pq.read_table(written["gone"]).to_pandas()
    assert gone["record_handle"].tolist() == comparison.gone_frame()["record_handle"].tolist() and comparison.gone > 0
    assert pq.read_table(written["added"]).num_rows == comparison.added
    again = comparison.to_parquet(tmp_path / "out")  # written again in place: replaced, not appended
    assert pq.read_table(again["changes"]).num_rows == comparison.changed
    (tmp_path / "file").write_text("x")
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        comparison.to_parquet(tmp_path / "file")
    assert info.value.field == "folder"


def test_the_heatmap_colour_bar_reads_record_counts(comparison: Comparison) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = comparison.plot_transitions("record_status")
    fig.canvas.draw()
    bar = fig.axes[-1]
    assert bar.get_ylabel() == "records (log scale)"
    low, high = bar.get_ylim()
    labels = [t.get_text() for v, t in zip(bar.get_yticks(), bar.get_yticklabels(), strict=True)
              if low <= v <= high and t.get_text()]
    counts = [int(label.replace(",", "")) for label in labels]  # numbers, not 10^x or logarithms
    top = int(comparison.status_transitions().to_numpy().max())
    assert counts and counts == sorted(counts) and set(counts) <= {1, 10, 100, 1000, 10_000, 100_000}
    assert max(counts) <= top and (top < 100 or 100 in counts)
