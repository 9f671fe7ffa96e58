"""Campaign progress on 1,000,000-record runs: ``run.kpis()`` and ``compare_runs`` (DuckDB on the parts)
against the same comparison done with pandas merges, each in its own process (time and peak RSS).

The two runs are written directly in a streamed run's on-disk format (``_run.json``, ``_state.json``,
``records/`` and ``calls/`` parts of 2,000 handles, zstd, the frames' columns and dtypes: see
gwsnb/runs.py), not fetched from a sandbox: fetching 2 x 435,000 chains would take most of an hour
here and measure GetChainedRecord, not the comparison.  The metrics table has no part (neither side
reads it).  The earlier run is the sandbox's generated list (seed 1) read once per chain; the later one
is that list after a dialer's day: 20% of the Ready records dialed (attempt + 1; completed, rescheduled,
called back or do-not-call in the shares of ``Sandbox.advance``), the other records of completed chains
Chain Updated, 1% of records added in new chains, 0.5% of the chains not called again.

Measured, each in a fresh process (``--measure``), peak RSS from ``/proc/self/status`` (VmHWM):

1. ``kpis``: ``open_run(after).kpis()``. Target <= 5 s.
2. ``compare``: ``compare_runs(before, after)``, a page of ``changes()``, ``to_parquet()``,
   ``added_frame()``, ``gone_frame()``, both transition matrices and ``kpi_deltas()``: peak RSS <= 500 MiB
   at 1M and at 4M records (issue 26; the peak once both runs are opened is shown apart); then
   ``changes_frame()``, which loads every change into pandas and grows with them.
3. ``pandas``: the same answers with pandas: both records tables read with ``pd.read_parquet`` (the
   compared columns only), each record's latest reading kept, an outer merge, the changed rows, the
   one-side rows, two crosstabs and the KPI counts of both runs.  The ratios are pandas over DuckDB.

Run: ``.venv/bin/python -m benchmarks.bench_progress [--records 1000000] [--keep DIR]``; ``--records 4000000``
writes two 4,000,000-record runs (about 10 GiB of memory and a quarter of an hour to write here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIB = 2**20
CAMPAIGN, APPLICATION_ID, DEVICE = "Campaign1", 134, "/devices/c259da54-7c22-4a43-9440-77a92facc86b"
PART_HANDLES = 2000
START = pd.Timestamp("2027-01-15T08:00:00Z")


# --------------------------------------------------------------------------- the runs, written directly
def _records(frame: pd.DataFrame, list_name: str) -> pd.DataFrame:
    """The records table of a run that read ``frame`` (a calling list) once per chain."""
    from gwsnb import frames, labels

    empty = frames.records_frame([])
    out: dict[str, Any] = {}
    heads = frame.groupby("chain_id", sort=False)["record_handle"].transform("min")
    out["reference_id"] = "r" + heads.astype(str)
    for name in ("record_handle", "chain_id", "chain_n", "attempt", "tz_dbid"):
        out[name] = frame[name]
    out["contact_info"] = frame["contact_info"]
    for field in labels.CODE_FIELDS:
        codes = frame[field].to_numpy()
        names = pd.Series(codes).map(labels.DEFAULT[field]).to_numpy()
        out[field] = pd.Categorical(names, categories=empty[field].cat.categories)
        out[f"{field}_code"] = codes
    for name in ("dial_sched_time", "call_time"):
        # from the nullable integers, not float64: pandas 2.3 turns a float NaN into an arbitrary int64 on the
        # way and then raises FloatingPointError (overflow) in about half the runs; ns, as gwsnb writes them
        out[name] = pd.to_datetime(frame[name], unit="s", utc=True).astype("datetime64[ns, UTC]")
    for name in ("daily_from", "daily_till"):
        out[name] = pd.to_timedelta(frame[name], unit="s")
    out["tz_name"] = "EST"
    out["tz_offset_min"] = -300
    out["campaign_name"], out["calling_list"] = CAMPAIGN, list_name
    out["application_id"], out["device_path"] = APPLICATION_ID, DEVICE
    records = pd.DataFrame(out)
    for name in empty.columns:
        records[name] = records[name].astype(empty[name].dtype)
    for name in ("language", "contract_months", "churn_risk"):
        records[name] = frame[name].to_numpy()
    return records


def _calls(records: pd.DataFrame, sent: pd.Timestamp) -> pd.DataFrame:
    from gwsnb.runs import part_frames

    empty = part_frames([])["calls"]
    per_chain = records.groupby("reference_id", sort=False).agg(record_handle=("record_handle", "min"),
                                                                records=("record_handle", "size"))
    calls = pd.DataFrame({"record_handle": per_chain["record_handle"].to_numpy(),
                          "reference_id": per_chain.index.to_numpy(), "status": "ok", "error": None,
                          "records": per_chain["records"].to_numpy(), "attempts": 1,
                          "sent": sent + pd.to_timedelta(np.arange(len(per_chain)) * 5, unit="ms"),
                          "http_ms": 2.0, "first_event_ms": 3.0, "total_ms": 4.0})
    for name in empty.columns:
        if name not in calls:  # the clock's and the server's columns: unknown here, left empty
            calls[name] = pd.Series(pd.NA, index=calls.index).astype(empty[name].dtype)
        calls[name] = calls[name].astype(empty[name].dtype)
    return calls[list(empty.columns)]


def part_table(frame: pd.DataFrame) -> Any:
    """A part's table from a frame of the part's columns, as gwsnb's writer made it before issue 26 (the
    frame through ``Table.from_pandas``, mixed columns as text); runs read both kinds of part the same."""
    import pyarrow as pa

    frame = frame.copy(deep=False)
    frame.attrs = {}
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: None if v is None else str(v)).astype("string")
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_run(root: Path, frame: pd.DataFrame, sent: pd.Timestamp) -> None:
    """``frame`` (a calling list) as a finished streamed run at ``root``, parts of PART_HANDLES chains."""
    import pyarrow.parquet as pq

    from gwsnb import runs

    records = _records(frame, "CallingList1")
    calls = _calls(records, sent)
    handles = calls["record_handle"].astype("int64").tolist()
    for table in runs.TABLES:
        (root / table).mkdir(parents=True)
    chain_start = np.flatnonzero(np.r_[True, records["reference_id"].to_numpy()[1:] != records["reference_id"].to_numpy()[:-1]])
    parts = []
    for i, first in enumerate(range(0, len(calls), PART_HANDLES)):
        name = f"part-{i + 1:06d}"
        last = min(first + PART_HANDLES, len(calls))
        row_end = chain_start[last] if last < len(chain_start) else len(records)
        for table, data in (("records", records.iloc[chain_start[first]:row_end]), ("calls", calls.iloc[first:last])):
            pq.write_table(part_table(data), root / table / f"{name}.parquet", compression="zstd")
        parts.append(name)
    meta = {"format": runs.FORMAT, "version": runs.VERSION, "campaign_name": CAMPAIGN,
            "application_id": APPLICATION_ID, "device_path": DEVICE, "handle_count": len(handles),
            "handles_sha256": runs._fingerprint(handles), "created": sent.isoformat(),
            "handles": runs.to_ranges(handles)}
    runs._write_json(root / runs.RUN_FILE, meta)
    runs._write_json(root / runs.STATE_FILE, {"parts": parts, "done": runs.to_ranges(handles), "ok": len(handles),
                                              "failed": 0})


def a_day_later(frame: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """The list after a dialer's day (see the module doc), vectorized."""
    rng = np.random.default_rng(seed)
    after = frame.copy()
    now = int(START.timestamp()) + 8 * 3600
    ready = np.flatnonzero((after["record_status"].to_numpy() == 1) & (after["record_type"].to_numpy() == 2))
    dialed = rng.choice(ready, size=len(ready) // 5, replace=False)
    outcome = rng.choice(["complete", "redial", "callback", "dnc"], size=len(dialed), p=[0.45, 0.45, 0.07, 0.03])
    after.loc[after.index[dialed], "attempt"] += 1
    call_time = now - rng.integers(0, 8 * 3600, size=len(dialed))
    after.loc[after.index[dialed], "call_time"] = call_time
    result = np.where(outcome == "complete", 33, np.where(outcome == "redial", 7, np.where(outcome == "dnc", 51, 33)))
    after.loc[after.index[dialed], "call_result"] = result
    status = np.where(np.isin(outcome, ["complete", "dnc"]), 3, 1)
    after.loc[after.index[dialed], "record_status"] = status
    rtype = np.where(outcome == "redial", 3, np.where(outcome == "callback", 6, np.where(outcome == "dnc", 7, 2)))
    after.loc[after.index[dialed], "record_type"] = rtype
    scheduled = np.isin(outcome, ["redial", "callback"])
    after.loc[after.index[dialed[scheduled]], "dial_sched_time"] = call_time[scheduled] + rng.integers(
        3600, 30 * 3600, size=int(scheduled.sum()))
    finished_chains = after["chain_id"].to_numpy()[dialed[status == 3]]
    members = np.isin(after["chain_id"].to_numpy(), finished_chains) & (after["record_status"].to_numpy() == 1)
    after.loc[members, "record_status"] = 7
    # 0.5% of the chains not called again; 1% of records added in new chains
    chains = after["chain_id"].unique()
    dropped = rng.choice(chains, size=len(chains) // 200, replace=False)
    after = after[~after["chain_id"].isin(dropped)]
    added = frame.sample(n=len(frame) // 100, random_state=seed).copy()
    added["record_handle"] = np.arange(len(added)) + int(frame["record_handle"].max()) + 1
    added["chain_id"] = np.arange(len(added)) + int(frame["chain_id"].max()) + 1
    added["chain_n"] = 0
    for name, value in (("record_status", 1), ("record_type", 2), ("call_result", 28), ("attempt", 0)):
        added[name] = value
    added["dial_sched_time"] = pd.array([None] * len(added), dtype="Int64")
    added["call_time"] = pd.array([None] * len(added), dtype="Int64")
    return pd.concat([after, added], ignore_index=True)


def make_runs(folder: Path, records: int) -> tuple[Path, Path]:
    from gwsnb.sandbox import CallingList

    listed = CallingList.generate(max(10, records * 10 // 23), 1).frame
    before, after = folder / "before", folder / "after"
    write_run(before, listed, START)
    write_run(after, a_day_later(listed), START + pd.Timedelta(hours=8))
    return before, after


# --------------------------------------------------------------------------- measures, one per process
def _kpis(before: str, after: str) -> dict[str, Any]:
    import gwsnb

    kpis = gwsnb.open_run(after).kpis()
    return {"rows": len(kpis), "records": int(kpis.loc[kpis["measure"] == "records", "count"].iloc[0])}


def _compare(before: str, after: str) -> dict[str, Any]:
    """Every answer but ``changes_frame()``: the changes read by one page and written to Parquet by DuckDB;
    the peak after the two runs are opened is reported apart (their ``_run.json``/``_state.json`` handle
    ranges, parsed by :func:`gwsnb.open_run`, are not the comparison's)."""
    import pyarrow.parquet as pq

    import gwsnb

    runs = gwsnb.open_run(before), gwsnb.open_run(after)
    opened = _peak_rss()
    comparison = gwsnb.compare_runs(*runs)
    page = comparison.changes(10_000)
    with tempfile.TemporaryDirectory(prefix="gwsnb-bench-changes-") as folder:
        written = comparison.to_parquet(folder)
        on_disk = {name: pq.ParquetFile(path).metadata.num_rows for name, path in written.items()}
    added, gone = comparison.added_frame(), comparison.gone_frame()
    status, results = comparison.status_transitions(), comparison.call_result_transitions()
    deltas = comparison.kpi_deltas()
    assert len(page) == min(10_000, comparison.changed) and on_disk["changes"] == comparison.changed
    without_frame = _peak_rss()
    frame = comparison.changes_frame()  # the whole answer in pandas: grows with the changes
    assert len(frame) == comparison.changed
    return {"changed": comparison.changed, "added": len(added), "gone": len(gone),
            "moved": int(status.to_numpy().sum()), "results": int(results.to_numpy().sum()), "deltas": len(deltas),
            "_opened_rss": opened, "_peak_without_frame": without_frame}


COLUMNS = ["reference_id", "record_handle", "chain_id", "record_status", "record_status_code", "call_result",
           "call_result_code", "record_type", "record_type_code", "attempt", "dial_sched_time"]
FIELDS = ["record_status_code", "call_result_code", "attempt", "dial_sched_time", "record_type_code"]


def _latest(path: str) -> pd.DataFrame:
    import gwsnb

    run = gwsnb.open_run(path)
    records = run.records_frame(columns=COLUMNS)
    sent = run.calls_frame(columns=["reference_id", "sent"])
    records = records.merge(sent, on="reference_id", how="left")
    return records.sort_values("sent", kind="stable").drop_duplicates("record_handle", keep="last")


def _pandas_kpis(frame: pd.DataFrame, now: pd.Timestamp) -> dict[str, Any]:
    ready = frame["record_status_code"] == 1
    sched = frame["dial_sched_time"]
    return {"records": len(frame), "chains": frame["chain_id"].nunique(),
            "penetration": int((frame["attempt"] >= 1).sum()),
            "finished": int((frame["record_status_code"].isin([3, 5, 7]) | (frame["record_type_code"] == 7)).sum()),
            "ready": int((ready & frame["record_type_code"].between(2, 6) & (sched.isna() | (sched <= now))).sum()),
            "later": int((ready & frame["record_type_code"].isin([3, 4, 5, 6]) & (sched > now)).sum()),
            "status": frame["record_status"].value_counts(), "result": frame["call_result"].value_counts(),
            "type": frame["record_type"].value_counts(), "attempts": frame["attempt"].value_counts()}


def _pandas(before: str, after: str) -> dict[str, Any]:
    left, right = _latest(before), _latest(after)
    _pandas_kpis(left, left["sent"].max())
    _pandas_kpis(right, right["sent"].max())
    merged = left.merge(right, on="record_handle", how="outer", suffixes=("_before", "_after"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    differs = np.zeros(len(both), dtype=bool)
    for field in FIELDS:
        b, a = both[f"{field}_before"], both[f"{field}_after"]
        differs |= ((b != a) & ~(b.isna() & a.isna())).fillna(True).to_numpy(dtype=bool)
    changes = both[differs]
    added, gone = merged[merged["_merge"] == "right_only"], merged[merged["_merge"] == "left_only"]
    status = pd.crosstab(both["record_status_before"], both["record_status_after"])
    results = pd.crosstab(both["call_result_before"], both["call_result_after"])
    return {"changed": len(changes), "added": len(added), "gone": len(gone), "moved": int(status.to_numpy().sum()),
            "results": int(results.to_numpy().sum())}


MEASURES = {"kpis": _kpis, "compare": _compare, "pandas": _pandas}


def measure(name: str, before: Path, after: Path) -> dict[str, Any]:
    """Run one measure in a fresh process; its answer, seconds and peak RSS."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_progress", "--measure", name, os.fspath(before),
                           os.fspath(after)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which starts anew at exec (``getrusage``'s ru_maxrss
    would carry the parent's peak, the one that wrote the runs)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(name: str, before: str, after: str) -> None:
    import duckdb  # noqa: F401  (imported before the clock starts, as in a notebook that already uses it)
    import pyarrow.parquet  # noqa: F401

    import gwsnb.progress  # noqa: F401

    base = _peak_rss()
    started = time.perf_counter()
    answer = MEASURES[name](before, after)
    elapsed = time.perf_counter() - started
    peak = _peak_rss()
    print(json.dumps({"answer": answer, "seconds": elapsed, "peak_rss": peak, "rss_at_start": base}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="write (or reuse) the two runs here instead of a temporary folder")
    parser.add_argument("--measure", nargs=3, metavar=("NAME", "BEFORE", "AFTER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _child(*args.measure)
        return
    with tempfile.TemporaryDirectory(prefix="gwsnb-bench-progress-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        before, after = folder / "before", folder / "after"
        if not (before / "_state.json").exists():
            started = time.perf_counter()
            folder.mkdir(parents=True, exist_ok=True)
            make_runs(folder, args.records)
            print(f"two runs written in {time.perf_counter() - started:.0f} s under {folder}")
        results = {name: measure(name, before, after) for name in ("kpis", "compare", "pandas")}
    compare, baseline, kpis = results["compare"], results["pandas"], results["kpis"]
    assert {k: compare["answer"][k] for k in baseline["answer"]} == baseline["answer"], (compare, baseline)
    opened, without_frame = compare["answer"].pop("_opened_rss"), compare["answer"].pop("_peak_without_frame")
    print(f"runs: {kpis['answer']['records']:,} records after ({args.records:,} asked); comparison: "
          + ", ".join(f"{k} {v:,}" for k, v in compare["answer"].items()))
    print(f"run.kpis()                      {kpis['seconds']:6.2f} s   peak RSS {kpis['peak_rss'] / MIB:6.0f} MiB"
          f"   (target <= 5 s)")
    print(f"compare_runs, a page of changes, to_parquet, the other answers: peak RSS {without_frame / MIB:6.0f} MiB"
          f"   (target <= 500 MiB); of which the two runs opened: {opened / MIB:.0f} MiB")
    print(f"  then changes_frame() (all {compare['answer']['changed']:,} changes in pandas)"
          f"    {compare['seconds']:6.2f} s in all   peak RSS {compare['peak_rss'] / MIB:6.0f} MiB")
    print(f"the same with pandas merges     {baseline['seconds']:6.2f} s   peak RSS {baseline['peak_rss'] / MIB:6.0f} MiB")
    print(f"ratio pandas / DuckDB: time {baseline['seconds'] / compare['seconds']:.2f}x, "
          f"peak RSS {baseline['peak_rss'] / compare['peak_rss']:.2f}x "
          f"(RSS after imports, before measuring: {compare['rss_at_start'] / MIB:.0f} MiB)")


if __name__ == "__main__":
    main()
