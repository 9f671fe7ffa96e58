"""Per-call cost of gwsnb against a hand-written raw asyncio client, in the same process, on the same server.

The baseline (:class:`RawClient`, written here, independent of gwsnb's code) is the least a program can do
for GetChainedRecord: one ``aiohttp`` session, the REST POST, one Bayeux long-poll loop written by hand,
and a dict of futures keyed by referenceId that counts records until ChainedRecordsDataEnd.  No event
log, no correlation of user events, no result objects, no retries.

Both clients talk to one ``gwsnb sandbox`` running in its own process, so the server's CPU is not the
client's.  For each concurrency (1, 16, 64) the baseline and gwsnb's ``get_chained_records`` run back to
back on the same handles (``--rounds`` times, alternating); the report gives the median calls/s and client
CPU per call (this process's CPU time, all threads, divided by the calls) of each, and as ratio the median
of each round's own gwsnb / baseline ratio, so that a load change between rounds does not tilt it.  Then
single calls alternate between the two (``--latency-calls`` each) for the median latency ratio.
Targets (at concurrency 16): throughput >= 0.8x the baseline, CPU per call <= 1.5x the baseline;
single-call median latency <= 1.1x.

Run: ``.venv/bin/python -m benchmarks.bench_percall [--handles 2000] [--rounds 3] [--latency-calls 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

import gwsnb
from benchmarks.bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, subprocess_sandbox

TARGETS = {"throughput": 0.8, "cpu": 1.5, "latency": 1.1}


class RawClient:
    """aiohttp POST + one hand-written Bayeux long-poll + futures keyed by referenceId."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.futures: dict[str, tuple[asyncio.Future[int], list[int]]] = {}
        self.device_path = ""
        self.csrf: dict[str, str] = {}
        self.client_id = ""
        self.http: aiohttp.ClientSession | None = None
        self.poller: asyncio.Task[None] | None = None

    async def open(self) -> None:
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          headers={"Authorization": f"Basic {basic}"})
        async with self.http.get(self.url + "/me") as r:
            self.csrf = {r.headers["X-CSRF-HEADER"]: r.headers["X-CSRF-TOKEN"]}
        async with self.http.get(self.url + "/me/devices") as r:
            self.device_path = "/devices/" + (await r.json())["devices"][0]["id"]
        async with self.http.post(self.url + "/me", json={"operationName": "StartContactCenterSession",
                                                          "channels": ["voice"]}, headers=self.csrf) as r:
            r.raise_for_status()
        hs = await self.bayeux([{"channel": "/meta/handshake", "version": "1.0",
                                 "supportedConnectionTypes": ["long-polling"]}])
        self.client_id = hs[0]["clientId"]
        await self.bayeux([{"channel": "/meta/connect", "clientId": self.client_id,
                            "connectionType": "long-polling", "advice": {"timeout": 0}}])
        await self.bayeux([{"channel": "/meta/subscribe", "clientId": self.client_id,
                            "subscription": "/v2/me/outbound"}])
        self.poller = asyncio.get_running_loop().create_task(self.poll())

    async def bayeux(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self.http is not None
        async with self.http.post(self.url + "/notifications", json=messages, headers=self.csrf) as r:
            r.raise_for_status()
            out: list[dict[str, Any]] = await r.json()
            return out

    async def poll(self) -> None:
        connect = [{"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling"}]
        while True:
            for message in await self.bayeux(connect):
                data = message.get("data")
                if not isinstance(data, dict):
                    continue
                waiter = self.futures.get(data.get("referenceId"))  # type: ignore[arg-type]
                if waiter is None:
                    continue
                kind = data.get("notificationType")
                if kind == "ChainedRecord":
                    waiter[1][0] += 1
                elif kind == "ChainedRecordsDataEnd" and not waiter[0].done():
                    waiter[0].set_result(waiter[1][0])

    async def call(self, handle: int) -> int:
        assert self.http is not None
        ref = uuid.uuid4().hex
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.futures[ref] = (future, [0])
        try:
            body = {"operationName": "GetChainedRecord", "campaignName": CAMPAIGN, "applicationId": APPLICATION_ID,
                    "devicePath": self.device_path, "referenceId": ref}
            async with self.http.post(f"{self.url}/me/outbound-records/{handle}", json=body,
                                      headers=self.csrf) as r:
                r.raise_for_status()
                await r.read()
            return await asyncio.wait_for(future, 30)
        finally:
            del self.futures[ref]

    async def run(self, handles: list[int], concurrency: int) -> int:
        source = iter(handles)
        records = 0

        async def worker() -> None:
            nonlocal records
            for handle in source:
                n = await self.call(handle)  # not `records += await ...`: that reads records before awaiting
                records += n

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return records

    async def close(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.http is not None:
            await self.http.close()


@dataclass
class Run:
    seconds: float
    cpu: float

    def rate(self, calls: int) -> float:
        return calls / self.seconds

    def cpu_ms(self, calls: int) -> float:
        return self.cpu / calls * 1000


def measure(fn: Any) -> tuple[Run, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    value = fn()
    return Run(time.perf_counter() - t0, time.process_time() - c0), value


@dataclass
class Pair:
    """One alternating round: the baseline's run and gwsnb's, back to back on the same handles."""

    calls: int
    raw: Run
    gws: Run

    @property
    def rate_ratio(self) -> float:
        return self.raw.seconds / self.gws.seconds

    @property
    def cpu_ratio(self) -> float:
        return self.gws.cpu / self.raw.cpu


def _median(values: Any) -> float:
    return float(statistics.median(list(values)))


def throughput_rounds(client: gwsnb.GwsClient, raw: RawClient, loop: asyncio.AbstractEventLoop,
                      handles: list[int], concurrencies: list[int], rounds: int) -> dict[int, list[Pair]]:
    def gws(hs: list[int], concurrency: int) -> int:
        batch = client.get_chained_records(hs, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                           concurrency=concurrency, progress=False, retries=0)
        if not batch.ok:
            raise SystemExit(f"gwsnb, concurrency {concurrency}: {batch.summary()}")
        return batch.record_count  # the batch's own count: a lean batch need not unpack its results for it

    loop.run_until_complete(raw.run(handles[:200], 16))  # warm-up: connections, code paths
    gws(handles[:200], 16)
    pairs: dict[int, list[Pair]] = {}
    for concurrency in concurrencies:
        # sequential runs are slow: a quarter of the handles is enough for a stable rate
        hs = handles if concurrency > 1 else handles[:max(100, len(handles) // 4)]
        for _ in range(rounds):
            r_run, r_records = measure(lambda c=concurrency, h=hs: loop.run_until_complete(raw.run(h, c)))
            g_run, g_records = measure(lambda c=concurrency, h=hs: gws(h, c))
            if r_records != g_records:
                raise SystemExit(f"record counts differ: raw {r_records}, gwsnb {g_records}")
            pairs.setdefault(concurrency, []).append(Pair(len(hs), r_run, g_run))
    return pairs


def latency_rounds(client: gwsnb.GwsClient, raw: RawClient, loop: asyncio.AbstractEventLoop,
                   handles: list[int], calls: int) -> tuple[list[float], list[float]]:
    raw_lat: list[float] = []
    gws_lat: list[float] = []
    for handle in itertools.islice(itertools.cycle(handles), calls):
        t0 = time.perf_counter()
        loop.run_until_complete(raw.call(handle))
        t1 = time.perf_counter()
        client.get_chained_record(handle, campaign_name=CAMPAIGN, application_id=APPLICATION_ID)
        raw_lat.append(t1 - t0)
        gws_lat.append(time.perf_counter() - t1)
    return raw_lat, gws_lat


def report(pairs: dict[int, list[Pair]], raw_lat: list[float], gws_lat: list[float]) -> None:
    print(f"{'conc':>4} | {'raw calls/s':>11} {'gwsnb calls/s':>13} {'ratio':>6} | "
          f"{'raw CPU ms/call':>15} {'gwsnb CPU ms/call':>17} {'ratio':>6}")
    ratios: dict[int, tuple[float, float]] = {}
    for concurrency, rounds in pairs.items():
        calls = rounds[0].calls
        rate = _median(p.rate_ratio for p in rounds)
        cpu = _median(p.cpu_ratio for p in rounds)
        ratios[concurrency] = (rate, cpu)
        print(f"{concurrency:>4} | {_median(p.raw.rate(calls) for p in rounds):11.0f} "
              f"{_median(p.gws.rate(calls) for p in rounds):13.0f} {rate:5.2f}x | "
              f"{_median(p.raw.cpu_ms(calls) for p in rounds):15.3f} "
              f"{_median(p.gws.cpu_ms(calls) for p in rounds):17.3f} {cpu:5.2f}x")
    raw_med, gws_med = _median(raw_lat) * 1000, _median(gws_lat) * 1000
    print(f"single call median latency: raw {raw_med:.2f} ms, gwsnb {gws_med:.2f} ms, "
          f"ratio {gws_med / raw_med:.2f}x ({len(raw_lat)} calls each, alternating)")
    if 16 not in ratios:
        return
    checks = [("throughput at 16", ratios[16][0], ">=", TARGETS["throughput"]),
              ("CPU per call at 16", ratios[16][1], "<=", TARGETS["cpu"]),
              ("single-call latency", gws_med / raw_med, "<=", TARGETS["latency"])]
    for name, value, op, target in checks:
        met = value >= target if op == ">=" else value <= target
        print(f"target {name}: {value:.2f}x {op} {target}x: {'met' if met else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per concurrency")
    parser.add_argument("--latency-calls", type=int, default=300)
    args = parser.parse_args()
    chains = max(100, args.handles // 2 + 50)
    loop = asyncio.new_event_loop()  # the baseline's loop, in this (main) thread
    with subprocess_sandbox(chains, 0.0) as server:
        handles = server.handles[:args.handles]
        raw = RawClient(server.url)
        loop.run_until_complete(raw.open())
        with gwsnb.connect(server.url, USER, PASSWORD) as client:
            pairs = throughput_rounds(client, raw, loop, handles, args.concurrency, args.rounds)
            raw_lat, gws_lat = latency_rounds(client, raw, loop, handles, args.latency_calls)
        loop.run_until_complete(raw.close())
    loop.close()
    print(f"bench_percall: {args.handles} handles, gwsnb sandbox in its own process, {os.cpu_count()} CPU(s); "
          f"medians of {args.rounds} alternating rounds, each ratio the median of the rounds' own ratios")
    report(pairs, raw_lat, gws_lat)


if __name__ == "__main__":
    main()
