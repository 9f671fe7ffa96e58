"""Benchmark: the GWS sandbox, against baselines measured in the same run.

Run: ``.venv/bin/python -m benchmarks.bench_sandbox [--records N] [--seconds S]``.

* Throughput: GetChainedRecord round trips per second (POST sent → its ChainedRecordsDataEnd received over a
  Bayeux long-poll) with 1, 16 and 64 concurrent HTTP sessions, each session running one call after the
  other. The sandbox runs in its own process (``gwsnb sandbox``), the driver is raw aiohttp. Baseline: a
  trivial aiohttp handler answering a POST with ``{"statusCode":0}``, in its own process, driven the same
  way (one POST per round trip). Ratio = sandbox / baseline (higher is better; a GetChainedRecord round
  trip needs at least two HTTP exchanges and ~7 messages, so < 0.5 is expected).
* Start: time and RSS growth of ``Sandbox(chains=...)`` + ``start()`` with about 1,000,000 records, in a fresh
  child process; baseline an (almost) empty sandbox (1 chain) measured the same way. Ratio = big / empty.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import aiohttp
import psutil

MEAN_CHAIN_LENGTH = 2.29
TARGET_RT_PER_S_16 = 500.0
TARGET_START_S = 20.0
TARGET_RSS_MB = 1500.0

_ECHO_SERVER = r"""
import sys
from aiohttp import web
async def echo(request):
    await request.read()
    return web.json_response({"statusCode": 0})
app = web.Application()
app.router.add_post("/echo", echo)
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
print(f"READY http://127.0.0.1:{port}/echo", flush=True)
web.run_app(app, sock=s, print=None, access_log=None)
"""

_START_CHILD = r"""
import gc, json, sys, time, psutil
proc = psutil.Process()
gc.collect(); before = proc.memory_info().rss
t0 = time.perf_counter()
from gwsnb.sandbox import Sandbox
sb = Sandbox(chains=int(sys.argv[1]), seed=1).start()
import requests
assert requests.get(sb.url + "/me", auth=("agent", "agent"), timeout=30).status_code == 200
elapsed = time.perf_counter() - t0
gc.collect(); after = proc.memory_info().rss
print(json.dumps({"seconds": elapsed, "rss_mb": after / 2**20, "rss_growth_mb": (after - before) / 2**20,
                  "records": len(sb.calling_list)}))
sb.stop()
"""


def _spawn(args: list[str], ready_pattern: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(ready_pattern, line)
        if m:
            return proc, m.group(1)
    raise RuntimeError(f"child did not start: {proc.stderr.read() if proc.stderr else ''}")


class _Session:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.base = base
        self.cometd = base + "/notifications"
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.client_id = ""
        self.running = True

    async def bayeux(self, msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with self.http.post(self.cometd, data=json.dumps(msgs), headers={"Content-Type": "application/json"}) as r:
            return list(await r.json())

    async def open(self) -> None:
        async with self.http.get(self.base + "/me", headers={"Authorization": self.auth}) as r:
            self.http.headers["X-CSRF-TOKEN"] = r.headers["X-CSRF-TOKEN"]
        [hs] = await self.bayeux([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}])
        self.client_id = hs["clientId"]
        await self.bayeux([
            {"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling", "advice": {"timeout": 0}},
            {"channel": "/meta/subscribe", "clientId": self.client_id, "subscription": "/v2/me/outbound"},
        ])

    async def poll(self) -> None:
        while self.running:
            for m in await self.bayeux([{"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling", "advice": {"timeout": 1000}}]):
                data = m.get("data")
                if data and data.get("notificationType") == "ChainedRecordsDataEnd":
                    fut = self.waiters.pop(data["referenceId"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(time.perf_counter())

    async def call(self, handle: int, ref: str, device_path: str) -> None:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[ref] = fut
        body = {"operationName": "GetChainedRecord", "applicationId": 134, "campaignName": "Campaign1",
                "devicePath": device_path, "referenceId": ref}
        async with self.http.post(f"{self.base}/me/outbound-records/{handle}", data=json.dumps(body),
                                  headers={"Content-Type": "application/json"}) as r:
            await r.read()
        await asyncio.wait_for(fut, 30)


async def _sandbox_rate(base: str, device_path: str, handles: list[int], sessions: int, seconds: float) -> float:
    peers = [_Session(base, "agent", "agent") for _ in range(sessions)]
    await asyncio.gather(*(p.open() for p in peers))
    pollers = [asyncio.create_task(p.poll()) for p in peers]
    counter = itertools.count()
    done = 0
    end = 0.0

    async def worker(p: _Session) -> None:
        nonlocal done
        while time.perf_counter() < end:
            i = next(counter)
            await p.call(handles[i % len(handles)], f"r{i}", device_path)
            done += 1

    # warm-up, then the measured window
    end = time.perf_counter() + 0.5
    await asyncio.gather(*(worker(p) for p in peers))
    done = 0
    start = time.perf_counter()
    end = start + seconds
    await asyncio.gather(*(worker(p) for p in peers))
    rate = done / (time.perf_counter() - start)
    for p in peers:
        p.running = False
    await asyncio.gather(*pollers, return_exceptions=True)
    await asyncio.gather(*(p.http.close() for p in peers))
    return rate


async def _echo_rate(url: str, sessions: int, seconds: float) -> float:
    clients = [aiohttp.ClientSession() for _ in range(sessions)]
    done = 0
    end = 0.0

    async def worker(c: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < end:
            async with c.post(url, data=b'{"operationName":"GetChainedRecord"}') as r:
                await r.read()
            done += 1

    end = time.perf_counter() + 0.5
    await asyncio.gather(*(worker(c) for c in clients))
    done = 0
    start = time.perf_counter()
    end = start + seconds
    await asyncio.gather(*(worker(c) for c in clients))
    rate = done / (time.perf_counter() - start)
    await asyncio.gather(*(c.close() for c in clients))
    return rate


def bench_throughput(seconds: float) -> list[dict[str, Any]]:
    sandbox, url = _spawn([sys.executable, "-m", "gwsnb.cli", "sandbox", "--port", "0", "--chains", "1000"],
                          r"running at (\S+)")
    echo, echo_url = _spawn([sys.executable, "-c", _ECHO_SERVER], r"READY (\S+)")
    try:
        import requests

        s = requests.Session()
        s.get(url + "/me", auth=("agent", "agent"), timeout=10)
        device_path = "/devices/" + s.get(url + "/me/devices", timeout=10).json()["devices"][0]["id"]
        handles = list(range(1, 1001))
        rows = []
        sandbox_ps = psutil.Process(sandbox.pid)
        for n in (1, 16, 64):
            cpu0, own0, t0 = sum(sandbox_ps.cpu_times()[:2]), time.process_time(), time.perf_counter()
            ours = asyncio.run(_sandbox_rate(url, device_path, handles, n, seconds))
            wall = time.perf_counter() - t0
            cpu = (sum(sandbox_ps.cpu_times()[:2]) - cpu0) / wall
            driver_cpu = (time.process_time() - own0) / wall
            base = asyncio.run(_echo_rate(echo_url, n, seconds))
            rows.append({"sessions": n, "round_trips_per_s": ours, "echo_per_s": base, "ratio": ours / base,
                         "sandbox_cpu": cpu, "driver_cpu": driver_cpu})
        return rows
    finally:
        for p in (sandbox, echo):
            p.terminate()
            p.wait(30)


def _start_child(chains: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _START_CHILD, str(chains)], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_start(records: int) -> dict[str, Any]:
    chains = int(records / MEAN_CHAIN_LENGTH)
    empty = _start_child(1)
    big = _start_child(chains)
    return {"records": big["records"], "start_s": big["seconds"], "rss_mb": big["rss_mb"],
            "rss_growth_mb": big["rss_growth_mb"], "empty_start_s": empty["seconds"], "empty_rss_mb": empty["rss_mb"],
            "start_ratio": big["seconds"] / empty["seconds"], "rss_ratio": big["rss_mb"] / empty["rss_mb"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(f"GetChainedRecord round trips (sandbox process + driver process on {os.cpu_count()} cores, {args.seconds:g} s each)")
    print(f"{'sessions':>8}  {'sandbox rt/s':>12}  {'echo baseline/s':>15}  {'ratio':>6}  {'sandbox CPU':>11}  {'driver CPU':>10}")
    rows = bench_throughput(args.seconds)
    for r in rows:
        print(f"{r['sessions']:>8}  {r['round_trips_per_s']:>12.0f}  {r['echo_per_s']:>15.0f}  {r['ratio']:>6.2f}"
              f"  {r['sandbox_cpu']:>11.0%}  {r['driver_cpu']:>10.0%}")
    at16 = next(r for r in rows if r["sessions"] == 16)["round_trips_per_s"]
    print(f"target >= {TARGET_RT_PER_S_16:.0f}/s at 16 sessions: {'met' if at16 >= TARGET_RT_PER_S_16 else 'MISSED'}")
    start = bench_start(args.records)
    print(f"\nStart of a {start['records']:,}-record sandbox: {start['start_s']:.2f} s "
          f"(empty sandbox {start['empty_start_s']:.2f} s, ratio {start['start_ratio']:.1f}); "
          f"RSS {start['rss_mb']:.0f} MB (empty {start['empty_rss_mb']:.0f} MB, ratio {start['rss_ratio']:.1f})")
    print(f"targets < {TARGET_START_S:.0f} s: {'met' if start['start_s'] < TARGET_START_S else 'MISSED'}; "
          f"< {TARGET_RSS_MB:.0f} MB: {'met' if start['rss_mb'] < TARGET_RSS_MB else 'MISSED'}")
    print(json.dumps({"throughput": rows, "start": start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
