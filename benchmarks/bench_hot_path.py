"""The client's own cost per GetChainedRecord, part by part, without the network (issue 26, item 2).

Where ``bench_engine`` row 4 compares whole runs with a hand-written client, this one times the parts the
hand-written client does not have, each in isolation, in CPU microseconds per call (best of ``--rounds``):

1. **engine and pace**: a fixed-concurrency bulk run (:class:`gwsnb._engine.bulk.BatchRun`, concurrency 16,
   every handle, its outcomes handed to a sink that drops them) over a call that answers at once after one
   suspension, against the same call made by 16 bare asyncio workers: the difference is what the engine,
   the pacer, the outage gate, the breaker and the load log cost a call;
2. **correlation**: the CometD messages of a real run (an in-process sandbox, ``--handles`` calls at
   concurrency 4, about 8 messages a call) fed again, 12 to a batch, to a fresh
   :class:`gwsnb._engine.correlate.Correlator` with the calls registered;
3. **decoding and logging**: the same bodies decoded (msgspec) and kept by an event log of the default
   budget (zlib level 1 per sealed block), and packed as an in-memory batch packs results.

Run: ``.venv/bin/python -m benchmarks.bench_hot_path [--rounds 7] [--handles 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from gwsnb._engine.bulk import BatchRun, ClientHooks
from gwsnb._engine.correlate import Correlator
from gwsnb._wire.eventlog import EventLog
from gwsnb._wire.hygiene import parse_body
from gwsnb._wire.jsoncodec import dumps
from gwsnb.batch import ResultPacker
from gwsnb.params import ChainedRecordParams
from gwsnb.results import CallTimings, ChainedRecordResult, Event

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER


def _result(handle: int) -> ChainedRecordResult:
    return ChainedRecordResult(reference_id="1", record_handle=handle, campaign_name=CAMPAIGN,
                               application_id=APPLICATION_ID, device_path="/devices/d", timings=CallTimings(sent=0.0),
                               records=[{"recordHandle": handle}])


async def _instant_call(params: ChainedRecordParams, device_path: str) -> ChainedRecordResult:
    await asyncio.sleep(0)
    return _result(params.record_handle)


class _DropSink:
    packer = ResultPacker()

    def add(self, outcome: Any) -> None:
        pass


def _cpu_us(fn: Callable[[], None], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def engine_cost(n: int, rounds: int) -> tuple[float, float]:
    """(CPU µs per call of a BatchRun, of 16 bare workers) over the instant call."""
    params = ChainedRecordParams(1, CAMPAIGN, APPLICATION_ID)

    async def probe() -> bool:
        return True

    def engine() -> None:
        hooks = ClientHooks(call=_instant_call, closed=lambda: False, probe=probe)
        run = BatchRun(list(range(1, n + 1)), params, "/devices/d", concurrency=16, retries=2, fail_fast=False,
                       hooks=hooks, sink=_DropSink(), every_handle=True)
        asyncio.run(run.execute())

    async def bare_run() -> None:
        handles = iter(range(1, n + 1))

        async def worker() -> None:
            for handle in handles:
                await _instant_call(ChainedRecordParams(handle, CAMPAIGN, APPLICATION_ID), "/devices/d")

        await asyncio.gather(*(worker() for _ in range(16)))

    return _cpu_us(engine, n, rounds), _cpu_us(lambda: asyncio.run(bare_run()), n, rounds)


def captured(handles: int) -> tuple[list[tuple[float, bytes]], list[tuple[str, int]], str]:
    """The long-poll bodies of a real run (as received), its calls (referenceId, handle) and device path."""
    import gwsnb
    from gwsnb.sandbox import Sandbox

    with Sandbox(chains=handles, seed=1) as sb:
        listed = [int(h) for h in sb.calling_list["record_handle"]][:handles]
        with gwsnb.connect(sb.url, USER, PASSWORD) as client:
            batch = client.get_chained_records(listed, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                               progress=False, every_handle=True, concurrency=4)
            events = client.event_log.snapshot()
            device = batch.results[0].device_path
            calls = [(r.reference_id, r.record_handle) for r in batch.results]
    # the bodies as the wire carried them: a few messages each, as the long polls delivered them
    bodies = [(events[i].received_at, dumps([e.message for e in events[i:i + 12]]))
              for i in range(0, len(events), 12)]
    return bodies, calls, device


def correlation_cost(bodies: list[tuple[float, bytes]], calls: list[tuple[str, int]], device: str,
                     rounds: int) -> float:
    batches = [[Event(at, m) for m in parse_body(raw)[0]] for at, raw in bodies]

    async def feed() -> None:
        loop = asyncio.get_running_loop()
        correlator = Correlator()
        futures = []
        for reference_id, handle in calls:
            future: asyncio.Future[ChainedRecordResult] = loop.create_future()
            futures.append(future)
            result = ChainedRecordResult(reference_id=reference_id, record_handle=handle, campaign_name=CAMPAIGN,
                                         application_id=APPLICATION_ID, device_path=device,
                                         timings=CallTimings(sent=0.0))
            correlator.register(reference_id, handle, device, result, future)
        started = time.process_time()
        for events in batches:
            correlator.feed(events)
        timings.append(time.process_time() - started)
        assert all(f.done() and not f.exception() for f in futures)

    timings: list[float] = []
    for _ in range(rounds):
        asyncio.run(feed())
    return min(timings) / len(calls) * 1e6


def decode_and_log_cost(bodies: list[tuple[float, bytes]], calls: int, rounds: int) -> tuple[float, float]:
    """(µs per call to decode the bodies, to keep them in an event log of the default budget)."""
    import gwsnb.client as client_module

    budget = client_module.DEFAULT_EVENT_LOG_BYTES
    repeat = 20  # enough bodies to seal blocks

    def decode() -> None:
        for _ in range(repeat):
            for _, raw in bodies:
                parse_body(raw)

    def log() -> None:
        event_log = EventLog(budget)
        for _ in range(repeat):
            for at, raw in bodies:
                event_log.add_raw(at, raw, 12)

    return _cpu_us(decode, calls * repeat, rounds), _cpu_us(log, calls * repeat, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--handles", type=int, default=300)
    parser.add_argument("--engine-calls", type=int, default=20_000)
    args = parser.parse_args()
    engine, bare = engine_cost(args.engine_calls, args.rounds)
    bodies, calls, device = captured(args.handles)
    correlation = correlation_cost(bodies, calls, device, args.rounds * 5)
    decode, log = decode_and_log_cost(bodies, len(calls), args.rounds)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()[:2])
    print(f"bench_hot_path: CPU µs per GetChainedRecord, best of {args.rounds}+ rounds, load average {load}")
    print(f"  engine + pace (fixed concurrency 16, every handle): {engine - bare:5.1f} µs "
          f"(run {engine:.1f} µs, bare asyncio workers {bare:.1f} µs)")
    print(f"  correlation ({sum(len(parse_body(raw)[0]) for _, raw in bodies) / len(calls):.1f} messages a call): "
          f"{correlation:5.1f} µs")
    print(f"  long-poll decoding (msgspec):                      {decode:5.1f} µs")
    print(f"  event log (default budget, zlib level 1 blocks):   {log:5.1f} µs")


if __name__ == "__main__":
    main()
