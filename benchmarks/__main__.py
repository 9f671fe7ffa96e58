"""Run every benchmark, one process each, and keep their reports in ``build/benchmarks.txt``.

``make bench`` (or ``python -m benchmarks``). Each benchmark measures its own baseline in the same run
and prints ratios; figures from a machine that is busy with something else are not comparable.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = ("bench_import", "bench_calling_list", "bench_sandbox", "bench_percall", "bench_frames", "bench_bulk",
              "bench_runs", "bench_progress", "bench_history", "bench_watch", "bench_codec", "bench_engine", "bench_capture",
              "bench_adaptive")


def main() -> int:
    out = Path("build") / "benchmarks.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with out.open("w") as report:
        for name in BENCHMARKS:
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            text = f"## {name} (exit {proc.returncode}, {elapsed:.0f} s)\n{proc.stdout}{proc.stderr}\n"
            print(text, flush=True)
            report.write(text)
            failed += proc.returncode != 0
    print(f"reports written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
