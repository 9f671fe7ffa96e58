"""The pace of a bulk run (issue 24, items 1 and 8): does the rate cap hold, and what does the pacer cost?

1. **Rate held**: ``get_chained_records(rate=R, max_calls=30*R, every_handle=True)`` against ``gwsnb sandbox``
   in its own process, for R in 50 and 500 calls/s: the calls the sandbox counted (``remote_stats``) and the
   rate over the run from the client's load log (first to last send).  Target: within 5% of R over 30 s.
2. **Cost of the pacer**: the client's CPU per call of whole runs (each chain once) with ``rate=None``
   against ``rate=100000`` (a limiter that never waits), alternated; then ``Pacer.admit()`` + ``done()``
   in a tight loop with no limit (the default), a rate that never binds, and a window, as a share of the
   client's CPU per call measured in the same process.

3. ``--limiter-only``: the pacer alone (16 tasks admitting calls that take 5 ms, no server) at each rate
   for ``--seconds``: whether the limiter holds the rate when the client is not the bottleneck (on a
   loaded machine the whole run may not reach 500 calls/s at all).
4. ``--plan-example``: only print the plan of a night run over the sandbox's list of 20,000 chains (the
   example of ``docs/production.md``).

Run: ``.venv/bin/python -m benchmarks.bench_pace [--seconds 30] [--rates 50,500] [--chains 8000]``
"""

from __future__ import annotations

import argparse
import asyncio
import time

import gwsnb
from gwsnb._engine.pace import Pacer
from gwsnb.sandbox import remote_reset_stats, remote_stats

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, subprocess_sandbox


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rate_held(client: gwsnb.GwsClient, url: str, handles: list[int], rate: float, seconds: float) -> None:
    calls = int(rate * seconds)
    remote_reset_stats(url, USER, PASSWORD)
    batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       rate=rate, max_calls=calls, every_handle=True, progress=False)
    assert batch.load is not None
    sent = sorted(batch.load.sent)
    measured = (len(sent) - 1) / (sent[-1] - sent[0])
    server = remote_stats(url, USER, PASSWORD)["requests"]
    print(f"rate {rate:>6g}/s: {server} calls counted by the sandbox (asked {calls}), {measured:8.2f} calls/s over "
          f"{sent[-1] - sent[0]:.1f} s = {100 * (measured / rate - 1):+.2f}%  (load {loadavg()})")


async def admit_loop(pacer: Pacer, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        ticket = await pacer.admit()
        assert ticket is not None
        pacer.done(ticket, "ok", 0.001)
    return (time.perf_counter() - start) / n * 1e6


def pacer_cost(n: int, per_call_us: float) -> None:
    cases = {"no limit (default)": gwsnb.Pace(), "rate 1e5 (never waits)": gwsnb.Pace(rate=100_000),
             "window 00:00-23:59:59": gwsnb.Pace(window="00:00-23:59:59")}
    for name, pace in cases.items():
        us = asyncio.run(admit_loop(Pacer(pace), n))
        print(f"pacer admit+done, {name:<24}: {us:6.2f} µs per call = {100 * us / per_call_us:4.1f}% of the "
              f"client's CPU per call  (load {loadavg()})")


def run_cost(client: gwsnb.GwsClient, handles: list[int], rounds: int) -> float:
    """Whole runs with ``rate=None`` and ``rate=100000``, alternated; the client's CPU per call (this
    process: the sandbox runs in its own), less sensitive to a loaded machine than the wall time.
    Returns the best CPU microseconds per call with ``rate=None``."""
    cpu: dict[str, list[float]] = {"rate=None": [], "rate=100000": []}
    for _ in range(rounds):
        for label, rate in (("rate=None", None), ("rate=100000", 100_000.0)):
            start, wall = time.process_time(), time.perf_counter()
            batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                               rate=rate, progress=False)
            calls = batch.calls_sent or 1
            cpu[label].append((time.process_time() - start) / calls * 1e6)
            print(f"run {label:<12}: {calls / (time.perf_counter() - wall):7,.0f} calls/s, "
                  f"{cpu[label][-1]:6.0f} µs client CPU per call  (load {loadavg()})")
    best = {label: min(v) for label, v in cpu.items()}
    print(f"client CPU per call, best of {rounds}: rate=None {best['rate=None']:.0f} µs, rate=100000 "
          f"{best['rate=100000']:.0f} µs (ratio {best['rate=100000'] / best['rate=None']:.3f})")
    return best["rate=None"]


async def limiter_alone(rate: float, seconds: float, tasks: int = 16) -> tuple[int, float]:
    pacer = Pacer(gwsnb.Pace(rate=rate, max_calls=int(rate * seconds), concurrency=tasks))
    sent: list[float] = []

    async def worker() -> None:
        while (ticket := await pacer.admit()) is not None:
            sent.append(time.monotonic())
            await asyncio.sleep(0.005)
            pacer.done(ticket, "ok", 0.005)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return len(sent), (len(sent) - 1) / (max(sent) - min(sent))


def limiter_only(rates: list[float], seconds: float) -> None:
    for rate in rates:
        count, measured = asyncio.run(limiter_alone(rate, seconds))
        print(f"limiter alone, rate {rate:>6g}/s: {count} admitted, {measured:8.2f}/s over {seconds:g} s = "
              f"{100 * (measured / rate - 1):+.2f}%  (load {loadavg()})")


def plan_example() -> None:
    from gwsnb.sandbox import Sandbox

    with Sandbox(chains=20_000, seed=1, password=PASSWORD) as sb, \
            gwsnb.connect(sb.url, sb.username, PASSWORD) as client:
        handles = [int(h) for h in sb.calling_list["record_handle"]]
        night = gwsnb.Pace(rate=50, max_calls=30_000, window="20:00-07:00", tz="Europe/Paris")
        plan = client.plan(handles, campaign_name=sb.campaign_name, application_id=sb.application_id, pace=night,
                           seed=1)
        print(plan)
        batch = client.get_chained_records(handles, campaign_name=sb.campaign_name,
                                           application_id=sb.application_id, progress=False)
        print(f"the run, each chain once and without the pace, made {batch.calls_sent:,} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rates", default="50,500")
    parser.add_argument("--chains", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--admits", type=int, default=200_000)
    parser.add_argument("--plan-example", action="store_true")
    parser.add_argument("--limiter-only", action="store_true")
    args = parser.parse_args()
    if args.limiter_only:
        limiter_only([float(r) for r in args.rates.split(",") if r], args.seconds)
        return
    if args.plan_example:
        plan_example()
        return
    with subprocess_sandbox(args.chains, 0.0) as server, \
            gwsnb.connect(server.url, USER, PASSWORD, timeout=30.0) as client:
        per_call_us = run_cost(client, server.handles[:6000], args.rounds)
        pacer_cost(args.admits, per_call_us)
        for rate in (float(r) for r in args.rates.split(",") if r):
            rate_held(client, server.url, server.handles, rate, args.seconds)


if __name__ == "__main__":
    main()
