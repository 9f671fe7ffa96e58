"""The benchmarks that build runs from frames (they reach into gwsnb's run format) still run against the
package as it is: a smoke run of each at a few thousand records, its exit status and its report's lines.
No figure is judged here (targets are measured by the benchmarks themselves, on a quiet machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("module", "args", "reported"), [
    ("benchmarks.bench_history", ["--records", "2000", "--snapshots", "2"], "history.kpis():"),
    ("benchmarks.bench_progress", ["--records", "3000"], "run.kpis()"),
])
def test_benchmark_runs_at_a_small_size(module: str, args: list[str], reported: str) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("duckdb")
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert reported in proc.stdout, proc.stdout[-3000:]
