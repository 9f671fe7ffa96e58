"""The sandbox alone under a capacity: what ``gwsnb sandbox --capacity 8 --service-ms 5`` really serves.

A sandbox with capacity N and service S ms can serve at most N / S calls per second (1,600/s for 8 and 5 ms);
whether this machine reaches that ceiling is measured here, so that a ceiling later blamed on the sandbox is
a measured one.  The client is :class:`benchmarks.bench_percall.RawClient` (hand-written: one aiohttp
session, the POST, one raw Bayeux long-poll, futures by referenceId; no gwsnb client code), at fixed
concurrencies 4, 8, 16, 32, 64, against ``gwsnb sandbox`` in its own process.  For each concurrency the
sandbox's statistics are reset, ``--calls`` calls run, and the server's side is read from its admin route
(``gwsnb.sandbox.remote_stats``): calls served, the most in service at once, the queue wait's p50/p95 (FIFO
predicts about ``(concurrency - N) * S / N`` ms once the client keeps every slot busy).  The same rows
against an unlimited sandbox (today's default) give the machine's own ceiling for this client and server.

``--overhead --baseline-src DIR``: the hot path's cost with ``capacity=None``: the sandbox of this tree and
the one whose ``gwsnb`` package is in DIR (``git archive <commit> gwsnb | tar -x -C DIR``), both unlimited,
in their own processes, driven alternately at concurrency 16 for ``--rounds`` rounds; the ratio is the median
of each round's own ratio (this tree / baseline), so that a load change between rounds does not tilt it.

Run: ``.venv/bin/python -m benchmarks.bench_capacity [--calls 3000] [--capacity 8] [--service-ms 5]``
or ``.venv/bin/python -m benchmarks.bench_capacity --overhead --baseline-src /tmp/gwsnb-base``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil

from benchmarks.bench_bulk import PASSWORD, USER
from benchmarks.bench_percall import RawClient
from gwsnb.sandbox import remote_reset_stats, remote_stats

CONCURRENCIES = (4, 8, 16, 32, 64)
CHAINS = 2000  # handles 1..4,500 or so, all valid (docs/choices.md#handles-1-to-n)


@contextlib.contextmanager
def sandbox_process(flags: list[str], src: str | None = None) -> Iterator[tuple[str, psutil.Process]]:
    """``gwsnb sandbox --port 0 ...flags`` in its own process (from ``src`` when given): its URL and process."""
    env = dict(os.environ)
    if src is not None:
        src = os.path.abspath(src)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-m", "gwsnb.cli", "sandbox", "--port", "0", "--chains", str(CHAINS),
                             *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=src)  # -m puts the working directory first on sys.path: not this tree's for src
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None:
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"gwsnb sandbox {' '.join(flags)} did not start")
            match = re.search(r"running at (\S+)", line)
            url = match.group(1) if match else None
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure_row(loop: asyncio.AbstractEventLoop, raw: RawClient, server: psutil.Process, url: str,
                handles: list[int], concurrency: int) -> dict[str, Any]:
    """One fixed concurrency: calls/s on the client's side, the server's side from its admin route."""
    remote_reset_stats(url, USER, PASSWORD)
    cpu0, own0, wall0 = _cpu(server), time.process_time(), time.perf_counter()
    loop.run_until_complete(raw.run(handles, concurrency))
    wall = time.perf_counter() - wall0
    server_cpu = (_cpu(server) - cpu0) / wall
    driver_cpu = (time.process_time() - own0) / wall
    stats = remote_stats(url, USER, PASSWORD)
    wait = stats["queue_wait_ms"]
    return {"concurrency": concurrency, "calls": len(handles), "calls_per_s": len(handles) / wall,
            "processed": stats["processed"], "max_in_service": stats["max_in_service"],
            "max_queued": stats["max_queued"], "wait_p50": wait["p50"], "wait_p95": wait["p95"],
            "service_p50": stats["service_time_ms"]["p50"], "server_cpu": server_cpu,
            "driver_cpu": driver_cpu}


def bench_rows(flags: list[str], calls: int, concurrencies: tuple[int, ...]) -> list[dict[str, Any]]:
    loop = asyncio.new_event_loop()
    try:
        with sandbox_process(flags) as (url, server):
            raw = RawClient(url)
            loop.run_until_complete(raw.open())
            try:
                handles = list(range(1, calls + 1))
                loop.run_until_complete(raw.run(handles[:300], 16))  # warm-up: connections, code paths
                return [measure_row(loop, raw, server, url, handles, c) for c in concurrencies]
            finally:
                loop.run_until_complete(raw.close())
    finally:
        loop.close()


def _predicted_wait(concurrency: int, capacity: int | None, service_ms: float | None) -> float:
    """FIFO with every slot busy: the requests beyond the capacity wait their turn, a slot freeing every
    service / capacity ms (the measured service time: the nominal one plus building the notifications and
    the loop's own lag)."""
    if capacity is None or service_ms is None:
        return 0.0
    return max(0, concurrency - capacity) * service_ms / capacity


def print_rows(title: str, rows: list[dict[str, Any]], capacity: int | None) -> None:
    print(title)
    print(f"{'conc.':>5}  {'calls/s':>8}  {'served':>6}  {'max in svc':>10}  {'max queued':>10}  "
          f"{'wait p50':>8}  {'wait p95':>8}  {'FIFO pred.':>10}  {'svc p50':>7}  {'sandbox CPU':>11}  {'driver CPU':>10}")
    for r in rows:
        pred = _predicted_wait(r["concurrency"], capacity, r["service_p50"])
        print(f"{r['concurrency']:>5}  {r['calls_per_s']:>8.0f}  {r['processed']:>6}  {r['max_in_service']:>10}  "
              f"{r['max_queued']:>10}  {_ms(r['wait_p50'])}  {_ms(r['wait_p95'])}  {pred:>8.1f}ms  "
              f"{_ms(r['service_p50'], 5)}  {r['server_cpu']:>11.0%}  {r['driver_cpu']:>10.0%}")


def _ms(value: float | None, width: int = 6) -> str:
    return f"{value:>{width}.2f}ms" if value is not None else f"{'-':>{width + 2}}"


def _one_overhead_run(src: str | None, calls: int) -> tuple[float, float]:
    """An unlimited sandbox (this tree's, or the one in ``src``): calls/s at concurrency 16, and its CPU ms per call."""
    loop = asyncio.new_event_loop()
    try:
        with sandbox_process([], src) as (url, server):
            raw = RawClient(url)
            loop.run_until_complete(raw.open())
            handles = list(range(1, calls + 1))
            loop.run_until_complete(raw.run(handles[:300], 16))
            cpu0, t0 = _cpu(server), time.perf_counter()
            loop.run_until_complete(raw.run(handles, 16))
            rate = calls / (time.perf_counter() - t0)
            cpu_ms = (_cpu(server) - cpu0) / calls * 1000
            loop.run_until_complete(raw.close())
            return rate, cpu_ms
    finally:
        loop.close()


def overhead(src: str, calls: int, rounds: int) -> tuple[list[float], list[float]]:
    """Rounds of (this tree's unlimited sandbox, the baseline's), alternating which goes first; each round's
    calls/s ratio and sandbox-CPU-per-call ratio (this tree / baseline).  The CPU per call is the figure that
    a busy machine disturbs least; calls/s moves with the load of the other processes."""
    rate_ratios, cpu_ratios = [], []
    for i in range(rounds):
        order = (None, src) if i % 2 == 0 else (src, None)
        runs = {which: _one_overhead_run(which, calls) for which in order}
        (new_rate, new_cpu), (base_rate, base_cpu) = runs[None], runs[src]
        rate_ratios.append(new_rate / base_rate)
        cpu_ratios.append(new_cpu / base_cpu)
        print(f"round {i + 1}: this tree {new_rate:.0f} calls/s, {new_cpu:.3f} ms CPU/call; baseline "
              f"{base_rate:.0f} calls/s, {base_cpu:.3f} ms CPU/call; ratios {rate_ratios[-1]:.3f}, "
              f"{cpu_ratios[-1]:.3f}", flush=True)
    return rate_ratios, cpu_ratios


def hot_path(calls: int, rounds: int) -> tuple[list[float], list[float]]:
    """What ``capacity=None`` adds to each GetChainedRecord, in this process: the admission with its log entry
    and the wrapper around OCS's work (try/finally, leave), against the bare task creation the sandbox had
    before, 64 tasks in flight at a time.  Rounds alternate the two; returns each round's difference in µs
    per call (with the additions - bare) and each round's bare µs per call."""
    from gwsnb.sandbox._capacity import Capacity

    async def work() -> None:  # the call's own work, the same in both: none here
        pass

    async def wrapped(cap: Capacity, entry: Any) -> None:  # as OcsEmulator._serve wraps that work
        if entry.waiter is not None:
            await cap.enter(entry)
        try:
            pass
        finally:
            cap.leave(entry)

    async def run(with_capacity: bool, cap: Capacity) -> float:
        loop = asyncio.get_running_loop()
        tasks = []
        t0 = time.perf_counter()
        for i in range(calls):
            if with_capacity:
                entry = cap.admit(i, None)
                tasks.append(loop.create_task(wrapped(cap, entry)))
            else:
                tasks.append(loop.create_task(work()))
            if len(tasks) >= 64:
                await asyncio.gather(*tasks)
                tasks.clear()
        await asyncio.gather(*tasks)
        return (time.perf_counter() - t0) / calls * 1e6

    async def rounds_of() -> tuple[list[float], list[float]]:
        cap = Capacity()  # one log across the rounds: it fills to its limit as in a long run
        diffs, bare = [], []
        for i in range(rounds):
            first, second = (False, True) if i % 2 == 0 else (True, False)
            a = await run(first, cap)
            b = await run(second, cap)
            diffs.append(b - a if second else a - b)
            bare.append(a if second else b)
        return diffs, bare

    return asyncio.run(rounds_of())


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=3000, help="calls per concurrency (default 3000)")
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument("--service-ms", type=float, default=5.0)
    parser.add_argument("--overhead", action="store_true", help="compare the unlimited hot path with --baseline-src")
    parser.add_argument("--baseline-src", help="a directory holding the baseline's gwsnb package")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--hot-path", action="store_true",
                        help="in-process: the µs capacity=None adds per call, against the bare task creation")
    args = parser.parse_args(argv)
    print(f"load average before: {_loadavg()}", flush=True)
    if args.hot_path:
        diffs, bare = hot_path(args.calls, max(args.rounds, 20))
        print(f"per call, capacity=None adds {statistics.median(diffs):.2f} µs (median of {len(diffs)} alternating "
              f"rounds of {args.calls} calls; quartiles {statistics.quantiles(diffs, n=4)[0]:.2f} / "
              f"{statistics.quantiles(diffs, n=4)[2]:.2f} µs) to a bare task's {statistics.median(bare):.2f} µs")
    elif args.overhead:
        if not args.baseline_src:
            parser.error("--overhead needs --baseline-src")
        rates, cpus = overhead(args.baseline_src, args.calls, args.rounds)
        for name, ratios in (("calls/s", rates), ("sandbox CPU per call", cpus)):
            print(f"{name}, this tree / baseline at concurrency 16: median {statistics.median(ratios):.3f} "
                  f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {len(ratios)} rounds)")
    else:
        flags = ["--capacity", str(args.capacity), "--service-ms", f"{args.service_ms:g}"]
        ceiling = args.capacity / args.service_ms * 1000
        rows = bench_rows(flags, args.calls, CONCURRENCIES)
        print_rows(f"\ngwsnb sandbox {' '.join(flags)}: ceiling capacity/service = {ceiling:,.0f} calls/s; "
                   f"{args.calls} calls per row", rows, args.capacity)
        best = max(rows, key=lambda r: r["calls_per_s"])
        print(f"best: {best['calls_per_s']:.0f} calls/s at concurrency {best['concurrency']} "
              f"= {best['calls_per_s'] / ceiling:.0%} of the ceiling")
        unlimited = bench_rows([], args.calls, (16, 64))
        print_rows("\ngwsnb sandbox (no capacity: the machine's own ceiling for this client and server)",
                   unlimited, None)
    print(f"load average after: {_loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
