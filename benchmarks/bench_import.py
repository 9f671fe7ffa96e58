"""Time of ``import gwsnb`` in a fresh interpreter, against the interpreter's own start-up measured in the
same run (``python -c pass``), and what the import loads.  Target: gwsnb's own share <= 0.25 s, and neither
pandas nor the sandbox loaded.

Run: ``.venv/bin/python -m benchmarks.bench_import [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _median_s(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bare = _median_s("pass", args.runs)
    plain = _median_s("import gwsnb", args.runs)
    client = _median_s("import gwsnb; gwsnb.GwsClient", args.runs)
    everything = _median_s("import gwsnb; gwsnb.GwsClient; gwsnb.Sandbox; gwsnb.ChainedRecordForm", args.runs)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gwsnb; print(' '.join(m for m in ('pandas', 'aiohttp', "
                               "'gwsnb.sandbox', 'ipywidgets', 'requests') if m in sys.modules))"],
        check=True, capture_output=True, text=True).stdout.strip()
    print(f"interpreter start (baseline)      {bare * 1000:7.1f} ms")
    print(f"import gwsnb                      {plain * 1000:7.1f} ms   gwsnb's share {(plain - bare) * 1000:6.1f} ms "
          f"(target <= 250 ms)")
    print(f"import gwsnb + the client         {client * 1000:7.1f} ms   share {(client - bare) * 1000:6.1f} ms")
    print(f"+ sandbox + form (everything)     {everything * 1000:7.1f} ms   share {(everything - bare) * 1000:6.1f} ms")
    print(f"heavy modules loaded by import gwsnb: {loaded or 'none'}")
    return 0 if plain - bare <= 0.25 and not loaded else 1


if __name__ == "__main__":
    sys.exit(main())
