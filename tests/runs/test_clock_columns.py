"""The calls table of a streamed run carries the clock columns (docs/watch.md), and a run written before
they existed still reads back with them, missing."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

import gwsnb
import gwsnb.runs
from gwsnb.sandbox import Faults, Sandbox

from .conftest import heads

CLOCK_COLUMNS = ["server_processing_ms", "delivery_low_ms", "delivery_high_ms"]


def test_a_run_writes_the_clock_columns_and_reads_old_runs_without_them(client: gwsnb.GwsClient, sb: Sandbox,
                                                                          tmp_path: Path) -> None:
    sb.faults = Faults(clock_offset_ms=90_000)
    run = client.get_chained_records(heads(sb, 30), campaign_name=sb.campaign_name,
                                     application_id=sb.application_id, progress=False, out=tmp_path / "q")
    assert isinstance(run, gwsnb.runs.Run)
    calls = run.calls_frame()
    assert list(calls.columns) == list(gwsnb.frames.CALLS_COLUMNS)
    assert calls["delivery_low_ms"].notna().all() and (calls["delivery_low_ms"] >= 0).all()
    assert (calls["delivery_low_ms"] <= calls["delivery_high_ms"]).all()
    # the same run as an older gwsnb wrote it: its calls parts without the three columns
    for part in (tmp_path / "q" / "calls").glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(CLOCK_COLUMNS), part)
    old = gwsnb.open_run(tmp_path / "q").calls_frame()
    assert list(old.columns) == list(gwsnb.frames.CALLS_COLUMNS)
    assert old[CLOCK_COLUMNS].isna().all().all() and len(old) == 30
    assert str(old["delivery_low_ms"].dtype) == "Float64"
