"""Memory of bulk runs: retained KiB per handle of an in-memory batch, and a streamed run's RSS and speed.

1. Retained memory: a ``--retained``-handle run (default 5,000) kept in memory, with ``keep_events=True``
   (every raw event, the behaviour before lean batches) and lean (the default).  "Retained" is the
   Python memory freed when the batch is deleted (tracemalloc), divided by the handles, on a client
   whose event log is off (else the log, not the batch, would hold the events).  Target:
   lean <= 2 KiB per handle (21.7 before, measured as RSS growth).
2. A streamed run of ``--handles`` handles (default 200,000) to a Parquet dataset in a temporary folder:
   this process's RSS when a quarter, half and all of the handles are done (target: flat within 50 MiB).
   The client's event log keeps ``--event-log-bytes`` of JSON text (default: the client's default,
   32 MiB, held compressed: see docs/engine.md).
3. The same handles run in memory (lean), right after, in the same process: handles/s of the streamed
   run over the in-memory one (target >= 0.9).

The handles are the sandbox's calling list in order (each returns its whole chain, as in a real list).
``--sandbox subprocess`` (default) runs ``gwsnb sandbox`` in its own process, so the RSS is the
client's alone.

Run: ``.venv/bin/python -m benchmarks.bench_runs [--handles 200000] [--retained 5000]``
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import tracemalloc
from typing import Any

import psutil

import gwsnb

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, inprocess_sandbox, subprocess_sandbox

MIB = 2**20


class RssAt:
    """A tqdm-like progress object that samples this process's RSS when given counts are reached."""

    def __init__(self, marks: list[int]) -> None:
        self.process = psutil.Process(os.getpid())
        self.marks = sorted(marks)
        self.n = 0
        self.rss: dict[int, int] = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        while self.marks and self.n >= self.marks[0]:
            self.rss[self.marks.pop(0)] = self.process.memory_info().rss

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass


def retained_kib(url: str, handles: list[int], keep_events: bool) -> float:
    with gwsnb.connect(url, USER, PASSWORD, event_log_bytes=0) as client:
        return _retained_kib(client, handles, keep_events)


def _retained_kib(client: gwsnb.GwsClient, handles: list[int], keep_events: bool) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                           progress=False, keep_events=keep_events)
        if not batch.ok:
            raise SystemExit(f"retained run: {batch.summary()}")
        gc.collect()
        with_batch = tracemalloc.get_traced_memory()[0]
        del batch
        gc.collect()
        without = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (with_batch - without) / 1024 / len(handles)


def streamed(client: gwsnb.GwsClient, handles: list[int], out: str) -> tuple[float, dict[int, int]]:
    n = len(handles)
    progress = RssAt([n // 4, n // 2, n])
    t0 = time.perf_counter()
    run = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                     progress=progress, out=out)
    elapsed = time.perf_counter() - t0
    if not run.ok:
        raise SystemExit(f"streamed run: {run.summary()}")
    return elapsed, progress.rss


def in_memory(client: gwsnb.GwsClient, handles: list[int]) -> float:
    t0 = time.perf_counter()
    batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       progress=False)
    elapsed = time.perf_counter() - t0
    if not batch.ok:
        raise SystemExit(f"in-memory run: {batch.summary()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=200_000, help="handles of the streamed run")
    parser.add_argument("--retained", type=int, default=5000, help="handles of the retained-memory runs")
    parser.add_argument("--sandbox", choices=("subprocess", "inprocess"), default="subprocess")
    parser.add_argument("--event-log-bytes", type=int, default=None,
                        help="the client's event log budget for the streamed and in-memory runs (default: the client's)")
    args = parser.parse_args()
    biggest = max(args.handles, args.retained)
    chains = max(100, biggest // 2 + 50)  # ~2.3 records per chain: enough distinct handles
    factory = subprocess_sandbox if args.sandbox == "subprocess" else inprocess_sandbox
    with factory(chains, 0.0) as server:
        handles = server.handles[:biggest]
        del server.handles[:]
        gc.collect()
        if len(handles) < biggest:
            raise SystemExit(f"the sandbox has only {len(handles)} handles")
        full = retained_kib(server.url, handles[:args.retained], keep_events=True)
        lean = retained_kib(server.url, handles[:args.retained], keep_events=False)
        log = {} if args.event_log_bytes is None else {"event_log_bytes": args.event_log_bytes}
        with gwsnb.connect(server.url, USER, PASSWORD, **log) as client, tempfile.TemporaryDirectory() as tmp:
            client.get_chained_records(handles[:200], campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       progress=False)  # warm-up: connections, code paths, imports
            run_handles = handles[:args.handles]
            t_stream, rss = streamed(client, run_handles, os.path.join(tmp, "run"))
            t_memory = in_memory(client, run_handles)
    n = args.handles
    print(f"bench_runs: sandbox {args.sandbox}, {os.cpu_count()} CPU(s)")
    print(f"retained per handle, {args.retained} handles in memory: keep_events=True {full:.2f} KiB, "
          f"lean (default) {lean:.2f} KiB ({full / lean:.0f}x less; target <= 2 KiB)")
    marks = sorted(rss)
    budget = args.event_log_bytes if args.event_log_bytes is not None else "default"
    print(f"streamed run of {n} handles (event log budget: {budget}): RSS " + ", ".join(f"{rss[m] / MIB:.0f} MiB at {m}" for m in marks)
          + f"; growth from {marks[0]} to {marks[-1]}: {(rss[marks[-1]] - rss[marks[0]]) / MIB:+.1f} MiB "
          "(target: within 50 MiB)")
    print(f"handles/s: streamed {n / t_stream:.0f}, in memory {n / t_memory:.0f}, ratio "
          f"{t_memory / t_stream:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
