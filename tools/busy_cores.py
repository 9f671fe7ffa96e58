"""Keep every core busy for a bounded time: the load ``make test-stress`` runs its tests under.

One spinning process per core (``os.cpu_count()``, or ``--procs``), each stopping by itself after
``--seconds`` (a deadline checked in the loop), so a load left behind by a killed make ends anyway.
The parent waits for them, or stops them (their ids, nothing else) on SIGTERM/SIGINT.

Run: ``python tools/busy_cores.py --seconds 600 [--procs 2]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time


def spin(deadline: float) -> None:
    # a pure-Python loop: one core's worth of work, and the GIL contention a notebook's own cell would add
    n = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            n += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, required=True, help="stop after this many seconds (bounded)")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2, help="spinning processes (default: cores)")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    procs = [multiprocessing.Process(target=spin, args=(deadline,), daemon=True) for _ in range(args.procs)]
    for proc in procs:
        proc.start()

    def stop(signum: int, frame: object) -> None:
        for proc in procs:
            proc.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
