"""What an open ``client.watch()`` costs a bulk run: throughput and client CPU per call with and without it.

One ``gwsnb sandbox`` in its own process, one client; each round runs ``get_chained_records`` over the same
handles twice, once with no watch and once with a watch open (its defaults: a 5000-message buffer,
redrawn at most every 0.25 s into its ipywidgets HTML widget from the client's loop thread), the order
alternating between rounds.  The report gives the median calls/s and CPU ms per call of each, and as ratio
the median of each round's own ratio (watch / no watch).  Target: throughput >= 0.9x, CPU per call
<= 1.1x.  On a machine shared with other work the rounds' throughput varies more than any watch could
move it, so the report also times the watch's own work alone, on the messages of the last run: what the
session's path pays per message (:meth:`WatchCore.received`) and one redraw (rows, HTML, widget update).  Outside a kernel the widget has no front end, so a redraw costs the HTML and the trait update,
not the message to a browser (a few KiB, at most four times a second).

Run: ``.venv/bin/python -m benchmarks.bench_watch [--handles 2000] [--rounds 5] [--concurrency 16]``
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import gwsnb
from benchmarks.bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, subprocess_sandbox
from gwsnb._engine.watch import WatchCore
from gwsnb.watch import Watch

TARGETS = {"throughput": 0.9, "cpu": 1.1}


def _run(client: gwsnb.GwsClient, handles: list[int], concurrency: int) -> tuple[float, float]:
    """(calls/s, CPU ms per call) of one bulk run, started from a collected heap: a full collection
    (tens of ms once the event log holds 100 000 messages) falls into whichever run crosses its threshold,
    and making the watch's widgets can move that crossing into the watched run."""
    gc.collect()
    cpu0, t0 = os.times(), time.perf_counter()
    batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       concurrency=concurrency, progress=False, retries=0)
    elapsed, cpu1 = time.perf_counter() - t0, os.times()
    assert batch.ok, batch.summary()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return len(handles) / elapsed, cpu * 1000 / len(handles)


def _own_work(watch: Watch) -> tuple[float, float]:
    """(µs per message of ``WatchCore.received``, ms per redraw), timed on the buffered messages."""
    events, _ = watch.core.snapshot()
    batches = [events[i:i + 8] for i in range(0, len(events), 8)]  # about one long-poll answer each
    passes = []
    for _ in range(5):  # the median of five passes: the first one also pays for warming caches
        core = WatchCore(watch.core.references, watch.core.clock)
        t0 = time.perf_counter()
        for batch in batches:
            core.received(batch)
        passes.append((time.perf_counter() - t0) * 1e6 / max(len(events), 1))
    per_message_us = statistics.median(passes)
    t0 = time.perf_counter()
    for _ in range(50):
        watch._render()
    return per_message_us, (time.perf_counter() - t0) * 1000 / 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with subprocess_sandbox(max(args.handles, 100), 0.0) as server, \
            gwsnb.connect(server.url, USER, PASSWORD, timeout=30) as client:
        handles = server.handles[:args.handles]
        _run(client, handles[:200], args.concurrency)  # warm-up
        plain: list[tuple[float, float]] = []
        watched: list[tuple[float, float]] = []
        renders = received = dropped = 0
        for i in range(args.rounds):
            for with_watch in ((False, True) if i % 2 == 0 else (True, False)):
                if not with_watch:
                    plain.append(_run(client, handles, args.concurrency))
                    continue
                watch = client.watch()
                try:
                    watched.append(_run(client, handles, args.concurrency))
                finally:
                    watch.stop()
                renders += watch.renders
                received += watch.core.received_count
                dropped += watch.core.dropped
        per_message_us, redraw_ms = _own_work(watch)
    rate = [w[0] / p[0] for p, w in zip(plain, watched, strict=True)]
    cpu = [w[1] / p[1] for p, w in zip(plain, watched, strict=True)]
    print(f"bench_watch: {args.handles} handles at concurrency {args.concurrency}, gwsnb sandbox in its own process, "
          f"{os.cpu_count()} CPU(s); medians of {args.rounds} alternating rounds, ratios the median of each round's")
    print(f"no watch : {statistics.median(p[0] for p in plain):7.0f} calls/s  "
          f"{statistics.median(p[1] for p in plain):.3f} CPU ms/call")
    print(f"watch    : {statistics.median(w[0] for w in watched):7.0f} calls/s  "
          f"{statistics.median(w[1] for w in watched):.3f} CPU ms/call  "
          f"({renders} redraws, {received} messages seen, {dropped} no longer buffered, over all rounds)")
    ratio_rate, ratio_cpu = statistics.median(rate), statistics.median(cpu)
    print(f"the watch's own work: {per_message_us:.2f} us per message in the session's path, {redraw_ms:.2f} ms "
          f"per redraw (at most 4 per second)")
    print(f"ratio watch / no watch: throughput {ratio_rate:.2f}x, CPU per call {ratio_cpu:.2f}x "
          f"(rounds' own throughput ratios from {min(rate):.2f}x to {max(rate):.2f}x: the noise)")
    print(f"target throughput: {ratio_rate:.2f}x >= {TARGETS['throughput']}x: "
          f"{'met' if ratio_rate >= TARGETS['throughput'] else 'MISSED'}")
    print(f"target CPU per call: {ratio_cpu:.2f}x <= {TARGETS['cpu']}x: "
          f"{'met' if ratio_cpu <= TARGETS['cpu'] else 'MISSED'}")


if __name__ == "__main__":
    main()
