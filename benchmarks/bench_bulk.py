"""Throughput of ``GwsClient.get_chained_records`` against the sandbox at concurrency 1, 16 and 64.

The ratio is taken against the sequential run (concurrency 1) measured in the same process, on the same
sandbox.  Target: >= 8x at concurrency 16.  Peak memory: the highest RSS of this process during a run
(sampled every 10 ms by a thread) minus the RSS before it, plus, with ``--tracemalloc``, the peak of
Python allocations (tracemalloc slows the run down, so it is measured in a separate pass).

``--sandbox subprocess`` (the default) runs ``gwsnb sandbox`` in its own process, so client and server
do not share one GIL; ``--sandbox inprocess`` runs it in a thread of this process.

Run: ``.venv/bin/python -m benchmarks.bench_bulk [--handles 2000] [--sandbox subprocess|inprocess]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

import gwsnb
from gwsnb.sandbox import Faults, Sandbox

CAMPAIGN = "Campaign1"
APPLICATION_ID = 134
USER = "agent"
PASSWORD = "agent"


@dataclass
class Server:
    url: str
    handles: list[int]


@contextlib.contextmanager
def inprocess_sandbox(chains: int, latency_ms: float) -> Iterator[Server]:
    with Sandbox(chains=chains, seed=1, faults=Faults(latency_ms=latency_ms)) as sb:
        yield Server(sb.url, [int(h) for h in sb.calling_list["record_handle"]])


@contextlib.contextmanager
def subprocess_sandbox(chains: int, latency_ms: float) -> Iterator[Server]:
    exe = str(Path(sys.executable).parent / "gwsnb")
    proc = subprocess.Popen([exe, "sandbox", "--port", "0", "--chains", str(chains), "--seed", "1",
                             "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None:
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("gwsnb sandbox did not start")
            match = re.search(r"running at (\S+)", line)
            url = match.group(1) if match else None
        # the handles are the generated calling list's: the same generator, the same seed
        handles = [int(h) for h in Sandbox(chains=chains, seed=1).calling_list["record_handle"]]
        yield Server(url, handles)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


class RssPeak:
    """Highest RSS of this process while the block runs, sampled by a thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.process = psutil.Process(os.getpid())
        self.interval = interval
        self.base = 0
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self.base = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def run_once(client: gwsnb.GwsClient, handles: list[int], concurrency: int) -> tuple[float, gwsnb.ChainedRecordBatch]:
    t0 = time.perf_counter()
    batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       concurrency=concurrency, progress=False, retries=0)
    return time.perf_counter() - t0, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=2000)
    parser.add_argument("--sandbox", choices=("subprocess", "inprocess"), default="subprocess")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="sandbox delay before each notification, to emulate a remote server")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the Python allocation peak")
    args = parser.parse_args()
    chains = max(100, args.handles // 2 + 50)  # ~2.3 records per chain: enough distinct handles
    factory = subprocess_sandbox if args.sandbox == "subprocess" else inprocess_sandbox
    with factory(chains, args.latency_ms) as server:
        handles = server.handles[:args.handles]
        if len(handles) < args.handles:
            raise SystemExit(f"the sandbox has only {len(handles)} handles")
        with gwsnb.connect(server.url, USER, PASSWORD) as client:
            run_once(client, handles[:100], 16)  # warm-up: connections, code paths
            rows = []
            cpu = psutil.Process(os.getpid())
            for concurrency in args.concurrency:
                c0 = cpu.cpu_times()
                with RssPeak() as rss:
                    elapsed, batch = run_once(client, handles, concurrency)
                c1 = cpu.cpu_times()
                if not batch.ok:
                    raise SystemExit(f"concurrency {concurrency}: {batch.summary()}")
                del batch
                client_cpu = (c1.user - c0.user) + (c1.system - c0.system)
                traced = None
                if args.tracemalloc:
                    tracemalloc.start()
                    run_once(client, handles, concurrency)
                    traced = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                rows.append((concurrency, elapsed, client_cpu, rss.peak - rss.base, traced))
    base = rows[0][1] if rows and rows[0][0] == 1 else None
    print(f"bench_bulk: {args.handles} handles, sandbox {args.sandbox}, latency {args.latency_ms} ms per "
          f"notification, {os.cpu_count()} CPU(s)")
    print(f"{'concurrency':>11} {'seconds':>8} {'calls/s':>9} {'vs seq':>7} {'client CPU s':>12} "
          f"{'RSS +MiB':>9}" + (f" {'py peak MiB':>11}" if args.tracemalloc else ""))
    for concurrency, elapsed, client_cpu, rss_delta, traced in rows:
        ratio = f"{base / elapsed:6.1f}x" if base else "    n/a"
        line = (f"{concurrency:>11} {elapsed:8.2f} {args.handles / elapsed:9.0f} {ratio:>7} {client_cpu:12.2f} "
                f"{rss_delta / 2**20:9.1f}")
        if traced is not None:
            line += f" {traced / 2**20:11.1f}"
        print(line)


if __name__ == "__main__":
    main()
