"""Issue 26: a run's load log is written to Parquet from the log's arrays (no pandas frame of it, a row group
at a time) and read back as :meth:`gwsnb.pace.Load.frame` gives it; :meth:`Load.summary` computes with numpy
the figures the per-attempt Python lists gave."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gwsnb import _parts, pace
from gwsnb.pace import CALL_KINDS, Load
from gwsnb.runs import LOAD_FOLDER, Run, RunWriter


def _load(n: int, seed: int = 26) -> Load:
    rng = random.Random(seed)
    load = Load()
    sent = 1_765_432_100.0 + rng.random()
    for _ in range(n):
        sent += rng.expovariate(200.0)
        load.add(sent, rng.uniform(0.0005, 2.5), rng.choice([4, 16, 70_000]), rng.randint(1, 16),
                 rng.choice([*CALL_KINDS, "ok", "ok", "something else"]))
    return load


def _summary_with_lists(load: Load) -> dict[str, Any]:
    """The summary as it was computed before issue 26 (Python lists of every attempt): the reference."""
    n = len(load.kind)
    sent, latency, kinds = load.sent[:n], load.latency[:n], load.kind[:n]
    seconds = max(max(s + lat for s, lat in zip(sent, latency, strict=True)) - min(sent), 1e-9)
    ok = sorted(lat for lat, kind in zip(latency, kinds, strict=True) if kind == 0)

    def pct(p: int) -> float | None:
        return None if not ok else round(ok[min(len(ok) - 1, int(p / 100 * len(ok)))] * 1000, 1)

    concurrency = load.concurrency[:n]
    return {"calls": n, "seconds": round(seconds, 2), "rate": round(n / seconds, 1),
            "concurrency": concurrency[-1], "concurrency_min": min(concurrency),
            "concurrency_max": max(concurrency), "in_flight_max": max(load.in_flight[:n]),
            "latency_p50_ms": pct(50), "latency_p95_ms": pct(95),
            "latency_floor_ms": None if load.floor_s is None else round(load.floor_s * 1000, 1)}


@pytest.mark.parametrize("n", [1, 7, 2_000])
def test_summary_gives_the_figures_of_the_lists(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pace, "_SUMMARY_BLOCK", 300)  # several blocks
    load = _load(n, seed=n)
    mine, theirs = load.summary(), _summary_with_lists(load)
    assert mine == theirs
    assert all(type(mine[key]) is type(theirs[key]) for key in mine)  # Python ints and floats, not numpy's
    assert Load().summary() == {}
    failed = Load()
    failed.add(1.0, 0.5, 4, 1, "timeout")
    assert failed.summary()["latency_p50_ms"] is None and failed.summary() == _summary_with_lists(failed)


def test_the_load_log_reads_back_as_the_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parts, "LOAD_ROWS", 500)  # several row groups
    load = _load(2_345)
    path = tmp_path / "load.parquet"
    _parts.write_load(load, path)
    assert pq.ParquetFile(path).metadata.num_row_groups == 5
    frame = pq.read_table(path).to_pandas()
    frame["kind"] = pd.Categorical(frame["kind"].astype(str), categories=list(CALL_KINDS))  # as Run reads it
    pdt.assert_frame_equal(frame, load.frame())


def test_run_load_frame_reads_old_and_new_logs_alike(tmp_path: Path) -> None:
    writer = RunWriter.open(tmp_path / "run", [1, 2], campaign_name="C", application_id=1, device_path="d")
    old, new = _load(300, seed=1), _load(200, seed=2)
    folder = tmp_path / "run" / LOAD_FOLDER
    folder.mkdir()
    # a session written before issue 26: the frame through pandas (its metadata in the file)
    pq.write_table(pa.Table.from_pandas(old.frame(), preserve_index=False), folder / "session-20260101T000000Z.parquet")
    writer.load = new
    writer.close()
    frame = Run(tmp_path / "run").load_frame()
    assert frame is not None
    pdt.assert_frame_equal(frame, pd.concat([old.frame(), new.frame()], ignore_index=True))
