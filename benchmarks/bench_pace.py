"""The pace of a bulk run (issue 24, items 1 and 8): does the rate cap hold, and what does the pacer cost?

1. **Rate held**: ``get_chained_records(rate=R, max_calls=30*R, every_handle=True)`` against ``gwsnb sandbox``
   in its own process, for R in 50 and 500 calls/s: the calls the sandbox counted (``remote_stats``) and the
   rate over the run from the client's load log (first to last send).  Target: within 5% of R over 30 s.
2. **Cost of the pacer**: ``Pacer.admit()`` + ``done()`` per call with no limit (the default), with a rate
   that never binds, and with a window, in a tight loop (microseconds per call, against the sandbox run's
   microseconds per call measured in the same process); and the throughput of whole runs with ``rate=None``
   against ``rate=100000`` (a limiter that never waits), alternated, each chain once.

3. ``--plan-example``: only print the plan of a night run over the sandbox's list of 20,000 chains (the
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


def pacer_cost(n: int) -> None:
    cases = {"no limit (default)": gwsnb.Pace(), "rate 1e5 (never waits)": gwsnb.Pace(rate=100_000),
             "window 00:00-23:59:59": gwsnb.Pace(window="00:00-23:59:59")}
    for name, pace in cases.items():
        us = asyncio.run(admit_loop(Pacer(pace), n))
        print(f"pacer admit+done, {name:<24}: {us:6.2f} µs per call  (load {loadavg()})")


def run_cost(client: gwsnb.GwsClient, handles: list[int], rounds: int) -> None:
    times: dict[str, list[float]] = {"rate=None": [], "rate=100000": []}
    for _ in range(rounds):
        for label, rate in (("rate=None", None), ("rate=100000", 100_000.0)):
            start = time.perf_counter()
            batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                               rate=rate, progress=False)
            elapsed = time.perf_counter() - start
            times[label].append(batch.calls_sent / elapsed)  # type: ignore[operator]
    best = {label: max(v) for label, v in times.items()}
    for label, values in times.items():
        print(f"run {label:<12}: {', '.join(f'{v:,.0f}' for v in values)} calls/s (best {best[label]:,.0f})")
    per_call_us = 1e6 / best["rate=None"]
    print(f"ratio rate=100000 / rate=None (best of {rounds}): {best['rate=100000'] / best['rate=None']:.3f}; "
          f"a call costs {per_call_us:.0f} µs of wall time at this throughput  (load {loadavg()})")


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
    args = parser.parse_args()
    if args.plan_example:
        plan_example()
        return
    pacer_cost(args.admits)
    with subprocess_sandbox(args.chains, 0.0) as server, \
            gwsnb.connect(server.url, USER, PASSWORD, timeout=30.0) as client:
        run_cost(client, server.handles[:6000], args.rounds)
        for rate in (float(r) for r in args.rates.split(",")):
            rate_held(client, server.url, server.handles, rate, args.seconds)


if __name__ == "__main__":
    main()
