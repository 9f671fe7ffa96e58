"""Issue 27, item 4: a history read as one table without gwsnb, by Dask on a ``dask.distributed`` local
cluster, straight from the Parquet files: penetration per run equal to ``history.kpis()``.

The cluster runs in this process (``processes=False``: threads, in-process transport, no dashboard), one
worker of two threads; the test takes a few seconds more than the others (the cluster's start and stop).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, heads, run

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")


def _history(folder: Path) -> None:
    """Three snapshots of a sandbox list, the dialer working between them, in Hive-style folders."""
    with Sandbox(chains=40, seed=8, password=PASSWORD) as sb:
        for step in range(3):
            run(sb, heads(sb), folder / f"run={step:02d}")
            sb.advance(hours=3, seed=step)


@pytest.mark.main_only
def test_dask_reads_the_history_as_one_table_and_finds_the_kpis(tmp_path: Path) -> None:
    _history(tmp_path)
    history = gwsnb.open_history(tmp_path)
    kpis = history.kpis()
    files = sorted(glob.glob(os.path.join(tmp_path, "*", "records", "*.parquet")))
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        records = dd.read_parquet(files, columns=["snapshot_time", "record_handle", "attempt"])
        once = records.drop_duplicates(subset=["snapshot_time", "record_handle"])  # each record once per run
        once = once.assign(attempted=(once["attempt"] >= 1).astype("int64"))
        per_run = once.groupby("snapshot_time").agg({"record_handle": "count", "attempted": "sum"}).compute()
    per_run = per_run.sort_index()
    snapshots = history.runs_frame().set_index("snapshot_time")["run"]
    assert sorted(per_run.index) == sorted(snapshots.index)  # the run's time is a column of every part
    for snapshot, row in per_run.iterrows():
        mine = kpis[kpis["run"] == snapshots[snapshot]].set_index("measure")
        assert row["record_handle"] == mine.at["records", "count"]
        assert row["attempted"] == mine.at["list penetration", "count"]
        assert row["attempted"] / row["record_handle"] == pytest.approx(mine.at["list penetration", "share"])
    assert per_run["attempted"].is_monotonic_increasing and per_run["attempted"].iloc[-1] > per_run["attempted"].iloc[0]
    # DuckDB, the query of docs/history.md: the folders' run= partitions beside the column
    import duckdb

    glob_ = os.path.join(tmp_path, "*", "records", "*.parquet")
    answer = duckdb.sql(
        "SELECT snapshot_time, run, count(*) AS records, count(*) FILTER (WHERE attempt >= 1) AS attempted, "
        f"attempted / records AS penetration FROM read_parquet('{glob_}', hive_partitioning = true) "
        "GROUP BY ALL ORDER BY snapshot_time").df()
    assert answer["run"].astype(str).tolist() == ["00", "01", "02"] or answer["run"].tolist() == [0, 1, 2]
    assert answer["attempted"].tolist() == per_run["attempted"].tolist()
    assert answer["penetration"].tolist() == pytest.approx(
        kpis[kpis["measure"] == "list penetration"]["share"].astype(float).tolist())


def test_the_parts_of_every_run_share_one_schema_with_the_snapshot_time(tmp_path: Path) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    _history(tmp_path)
    for table in ("records", "calls"):
        files = sorted(glob.glob(os.path.join(tmp_path, "*", table, "*.parquet")))
        schemas = {str(pq.read_schema(f)) for f in files}
        assert len(files) == 3 and len(schemas) == 1
        assert pq.read_schema(files[0]).field("snapshot_time").type.tz == "UTC"
    # the folder names are Hive partitions: pyarrow reads run= as a column beside the snapshot time
    part = ds.partitioning(flavor="hive")
    data = ds.dataset(sorted(glob.glob(os.path.join(tmp_path, "*", "records", "*.parquet"))), partitioning=part,
                      partition_base_dir=os.fspath(tmp_path)).to_table(columns=["run", "snapshot_time"]).to_pandas()
    assert data.groupby("run")["snapshot_time"].nunique().eq(1).all() and data["run"].nunique() == 3
    # the frames leave the column out; DuckDB's views carry it
    one = gwsnb.open_run(tmp_path / "run=00")
    assert "snapshot_time" not in one.records_frame().columns
    assert one.sql("select count(distinct snapshot_time) as n from records")["n"].iloc[0] == 1
    assert pd.Timestamp(one.meta["created"]) == one.sql("select any_value(snapshot_time) as t from calls")["t"].iloc[0]
