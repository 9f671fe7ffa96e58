"""A campaign's day read together: ``open_history(...).kpis()`` over many snapshots of one list (DuckDB over
every run's parts at once), against the same KPIs computed one run at a time (``open_run(p).kpis()`` for
each run), each in a fresh process (time and peak RSS).

The snapshots are written directly in a streamed run's on-disk format (as ``bench_progress`` does: the
frames' columns and dtypes, parts of 2,000 handles, zstd, plus the ``snapshot_time`` column every part of a
run now carries), not fetched from a sandbox: 24 reads of a 100,000-record list, or 8 of a 1,000,000-record
one, would take hours here and measure GetChainedRecord instead.  Snapshot 0 is the sandbox's generated
list (seed 1) read once per chain; each later one is the list after another stretch of dialing (the
``a_day_later`` step of ``bench_progress``, a different seed each time: 20% of the Ready General records
dialed, 1% of records added, 0.5% of the chains not read again), an hour apart.

Measured, each in a fresh process (``--measure``), peak RSS from ``/proc/self/status`` (VmHWM):

1. ``history``: ``gwsnb.open_history(folder)``, then ``.kpis()`` (both timed, and their sum).  Targets: 24
   snapshots of 100,000 records <= 5 s; 8 snapshots of 1,000,000 records <= 15 s, peak RSS <= 1 GiB.
2. ``each``: the baseline, ``gwsnb.open_run(p).kpis()`` for each run in turn.  The ratio is each over
   history (a ratio above 1: the history is faster).

Run: ``.venv/bin/python -m benchmarks.bench_history [--records 100000 --snapshots 24] [--keep DIR]``
and ``--records 1000000 --snapshots 8``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .bench_progress import (
    APPLICATION_ID,
    CAMPAIGN,
    DEVICE,
    PART_HANDLES,
    START,
    _records,
    a_day_later,
    part_table,
)

MIB = 2**20


def _calls(records: pd.DataFrame, sent: pd.Timestamp) -> pd.DataFrame:
    """The calls table of a run that read ``records`` once per chain (every column of today's calls frame;
    those the benchmark has no value for empty)."""
    from gwsnb.runs import part_frames

    empty = part_frames([])["calls"]
    per_chain = records.groupby("reference_id", sort=False).agg(record_handle=("record_handle", "min"),
                                                                records=("record_handle", "size"))
    given = {"record_handle": per_chain["record_handle"].to_numpy(), "reference_id": per_chain.index.to_numpy(),
             "status": "ok", "records": per_chain["records"].to_numpy(), "attempts": 1,
             "sent": sent + pd.to_timedelta(np.arange(len(per_chain)) * 5, unit="ms"),
             "http_ms": 2.0, "first_event_ms": 3.0, "total_ms": 4.0}
    calls = pd.DataFrame({name: given.get(name, pd.NA) for name in empty.columns}, index=range(len(per_chain)))
    for name in empty.columns:
        calls[name] = calls[name].astype(empty[name].dtype)
    return calls


def write_snapshot(root: Path, frame: pd.DataFrame, sent: pd.Timestamp) -> None:
    """``frame`` (a calling list) as a finished streamed run at ``root`` begun at ``sent``."""
    import pyarrow.parquet as pq

    from gwsnb import runs

    records = _records(frame, "CallingList1")
    calls = _calls(records, sent)
    handles = calls["record_handle"].astype("int64").tolist()
    for table in runs.TABLES:
        (root / table).mkdir(parents=True)
    refs = records["reference_id"].to_numpy()
    chain_start = np.flatnonzero(np.r_[True, refs[1:] != refs[:-1]])
    parts = []
    when = sent.to_pydatetime()
    for i, first in enumerate(range(0, len(calls), PART_HANDLES)):
        name = f"part-{i + 1:06d}"
        last = min(first + PART_HANDLES, len(calls))
        row_end = chain_start[last] if last < len(chain_start) else len(records)
        for table, data in (("records", records.iloc[chain_start[first]:row_end]), ("calls", calls.iloc[first:last])):
            arrow = runs._with_snapshot_time(part_table(data), when)
            pq.write_table(arrow, root / table / f"{name}.parquet", compression="zstd")
        parts.append(name)
    meta = {"format": runs.FORMAT, "version": runs.VERSION, "campaign_name": CAMPAIGN,
            "application_id": APPLICATION_ID, "device_path": DEVICE, "handle_count": len(handles),
            "handles_sha256": runs._fingerprint(handles), "created": sent.isoformat(),
            "handles": runs.to_ranges(handles)}
    runs._write_json(root / runs.RUN_FILE, meta)
    runs._write_json(root / runs.STATE_FILE, {"parts": parts, "done": runs.to_ranges(handles), "ok": len(handles),
                                              "failed": 0})


def make_history(folder: Path, records: int, snapshots: int) -> None:
    from gwsnb.sandbox import CallingList

    listed = CallingList.generate(max(10, records * 10 // 23), 1).frame
    for k in range(snapshots):
        sent = START + pd.Timedelta(hours=k)
        write_snapshot(folder / f"run={sent:%Y%m%dT%H%M%SZ}", listed, sent)
        if k + 1 < snapshots:
            listed = a_day_later(listed, seed=k + 1)


# --------------------------------------------------------------------------- measures, one per process
def _history(folder: str) -> dict[str, Any]:
    import gwsnb

    start = time.perf_counter()
    history = gwsnb.open_history(folder)
    opened = time.perf_counter() - start
    kpis = history.kpis()
    records = kpis[kpis["measure"] == "records"]["count"]
    return {"open_s": opened, "kpis_s": time.perf_counter() - start - opened, "runs": len(history),
            "rows": len(kpis), "records": int(records.sum())}


def _each(folder: str) -> dict[str, Any]:
    import gwsnb

    paths = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    records = 0
    for path in paths:
        kpis = gwsnb.open_run(path).kpis()
        records += int(kpis.loc[kpis["measure"] == "records", "count"].iloc[0])
    return {"runs": len(paths), "records": records}


MEASURES = {"history": _history, "each": _each}


def _peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def measure_here(name: str, folder: str) -> dict[str, Any]:
    import pyarrow.parquet  # noqa: F401  (imports outside the timing, as a notebook has them loaded)

    import gwsnb  # noqa: F401
    import gwsnb.history  # noqa: F401
    from gwsnb._analysis import duck

    duck.require_duckdb()
    start, cpu = time.perf_counter(), time.process_time()
    out = MEASURES[name](folder)
    out["seconds"] = time.perf_counter() - start
    out["cpu_s"] = time.process_time() - cpu  # every thread of the process: steadier than wall time under load
    out["peak_rss_mib"] = _peak_rss() / MIB
    return out


def measure(name: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_history", "--measure", name, os.fspath(folder)],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--keep", metavar="DIR", help="write the history here and keep it (default: a temp folder)")
    parser.add_argument("--measure", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure_here(*args.measure)))
        return 0
    with tempfile.TemporaryDirectory(prefix="gwsnb-bench-history-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "runs"
        if not (folder.exists() and any(folder.iterdir())):
            start = time.perf_counter()
            make_history(folder, args.records, args.snapshots)
            print(f"wrote {args.snapshots} snapshots of ~{args.records:,} records in {time.perf_counter() - start:.1f} s")
        history = measure("history", folder)
        each = measure("each", folder)
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        assert history["records"] == each["records"], (history, each)
        print(f"load average {' '.join(load)}")
        print(f"history.kpis(): open {history['open_s']:.2f} s + kpis {history['kpis_s']:.2f} s = "
              f"{history['seconds']:.2f} s (CPU {history['cpu_s']:.2f} s), peak RSS {history['peak_rss_mib']:.0f} MiB "
              f"({history['runs']} runs, {history['records']:,} records in all, {history['rows']} rows)")
        print(f"each run's kpis() in turn: {each['seconds']:.2f} s (CPU {each['cpu_s']:.2f} s), peak RSS {each['peak_rss_mib']:.0f} MiB")
        print(f"each over history: time {each['seconds'] / history['seconds']:.2f}x, "
              f"CPU {each['cpu_s'] / history['cpu_s']:.2f}x, "
              f"peak RSS {each['peak_rss_mib'] / history['peak_rss_mib']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
