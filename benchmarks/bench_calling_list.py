"""Benchmark: the sandbox's CallingList at about 1,000,000 records, against baselines measured in the same run.

Run: ``.venv/bin/python -m benchmarks.bench_calling_list [RECORDS]``. Each build runs in a fresh child
process so that its RSS growth is its own (psutil, RSS after minus RSS before, after a gc):

* ``generate``: ``CallingList.generate`` (realistic chains, all OCS columns, custom fields, lookup arrays)
  vs the baseline, a plain ``pd.DataFrame`` of the same shape and dtypes from unstructured random arrays.
* ``chain()``: lookups per second on random handles vs two pandas baselines on the same list: a boolean
  scan (``frame[frame.chain_id == id]``) and an indexed slice (``frame.iloc[start:end].to_dict("records")``
  with a precomputed handle → chain span dict).

Ratios: time and memory are ours / baseline (lower is better); lookups are ours / baseline (higher is better).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import psutil

from gwsnb.protocol import OCS_COLUMNS
from gwsnb.sandbox._calling_list import CallingList

MEAN_CHAIN_LENGTH = 2.29  # of the generator's distribution; chains = records / mean
BUDGET_GENERATE_S = 5.0
BUDGET_RSS_MB = 600.0
BUDGET_LOOKUPS_PER_S = 20_000.0  # 50 us per lookup; measured ~50k/s on 2 busy cores


def _rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def child_generate(records: int) -> dict[str, Any]:
    chains = round(records / MEAN_CHAIN_LENGTH)
    before = _rss_mb()
    start = time.perf_counter()
    cl = CallingList.generate(chains=chains, seed=1)
    seconds = time.perf_counter() - start
    grown = _rss_mb() - before
    handles = np.random.default_rng(2).integers(1, len(cl) + 1, size=200_000).tolist()
    start = time.perf_counter()
    for h in handles:
        cl.chain(h)
    lookups = len(handles) / (time.perf_counter() - start)

    # Baselines on the same list, fewer lookups because they are slow.
    frame = cl.frame
    few = handles[:300]
    chain_of_handle = dict(zip(frame["record_handle"].tolist(), frame["chain_id"].tolist(), strict=True))
    start = time.perf_counter()
    for h in few:
        frame[frame["chain_id"] == chain_of_handle[h]].to_dict("records")
    scan = len(few) / (time.perf_counter() - start)
    starts = np.flatnonzero(
        np.r_[True, frame["chain_id"].to_numpy()[1:] != frame["chain_id"].to_numpy()[:-1]]
    )
    ends = np.r_[starts[1:], len(frame)]
    span_of_chain = dict(
        zip(
            frame["chain_id"].to_numpy()[starts].tolist(),
            zip(starts.tolist(), ends.tolist(), strict=True),
            strict=True,
        )
    )
    some = handles[:5_000]
    start = time.perf_counter()
    for h in some:
        s, e = span_of_chain[chain_of_handle[h]]
        frame.iloc[s:e].to_dict("records")
    indexed = len(some) / (time.perf_counter() - start)
    return {
        "records": len(cl),
        "chains": cl.chain_count,
        "seconds": seconds,
        "rss_mb": grown,
        "lookups": lookups,
        "scan_lookups": scan,
        "indexed_lookups": indexed,
    }


def child_baseline(records: int) -> dict[str, Any]:
    before = _rss_mb()
    start = time.perf_counter()
    rng = np.random.default_rng(1)
    pool = np.array([f"+1212555{i:04d}" for i in range(100, 200)], dtype=object)
    data: dict[str, Any] = {"record_handle": np.arange(1, records + 1)}
    for c in OCS_COLUMNS:
        data[c] = (
            pool[rng.integers(0, 100, size=records)]
            if c == "contact_info"
            else rng.integers(0, 10**9, records)
        )
    data["custom_text"] = pool[rng.integers(0, 100, size=records)]
    data["custom_int"] = rng.integers(0, 10**6, records)
    data["custom_float"] = rng.random(records)
    frame = pd.DataFrame(data)
    seconds = time.perf_counter() - start
    grown = _rss_mb() - before
    return {"records": len(frame), "seconds": seconds, "rss_mb": grown}


def _run_child(kind: str, records: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_calling_list", "--child", kind, str(records)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        fn = child_generate if argv[1] == "generate" else child_baseline
        print(json.dumps(fn(int(argv[2]))))
        return 0
    records = int(argv[0]) if argv else 1_000_000
    base = _run_child("baseline", records)
    ours = _run_child("generate", records)
    print(
        f"CallingList at {ours['records']:,} records in {ours['chains']:,} chains (baseline frame: {base['records']:,} rows)"
    )
    rows = [
        ("generate, s", ours["seconds"], base["seconds"], "plain pd.DataFrame build"),
        ("RSS growth, MB", ours["rss_mb"], base["rss_mb"], "plain pd.DataFrame build"),
        ("chain() lookups/s", ours["lookups"], ours["scan_lookups"], "pandas boolean scan"),
        ("chain() lookups/s", ours["lookups"], ours["indexed_lookups"], "pandas iloc + span dict"),
    ]
    print(f"{'measure':<20}{'gwsnb':>14}{'baseline':>14}{'ratio':>10}  baseline")
    for name, ours_v, base_v, label in rows:
        print(f"{name:<20}{ours_v:>14,.2f}{base_v:>14,.2f}{ours_v / base_v:>10.2f}  {label}")
    ok = (
        ours["seconds"] <= BUDGET_GENERATE_S
        and ours["rss_mb"] <= BUDGET_RSS_MB
        and ours["lookups"] >= BUDGET_LOOKUPS_PER_S
    )
    print(
        f"{'OK' if ok else 'FAIL'} (budgets: generate <= {BUDGET_GENERATE_S} s, RSS growth <= {BUDGET_RSS_MB} MB, "
        f"chain() >= {BUDGET_LOOKUPS_PER_S:,.0f}/s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
