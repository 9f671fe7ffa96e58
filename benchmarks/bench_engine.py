"""Issue 20's table (items 1 to 4): memory, concurrency, per-call cost and outage recovery of the engine.

All rows run against ONE ``gwsnb sandbox`` process (a generated list of ``--chains`` chains, seed 1), as a
user runs it; the outage row, last, stops that process and starts a new one on the same port.

1. RSS growth per handle of a default in-memory bulk run of 3,000 handles, event log included (a child
   process: connect with the defaults, warm up on 200 handles, then RSS after the run, batch kept, minus
   RSS before it).  Target <= 3 KiB.
2. ``gwsnb chained-records`` in memory, 50,000 handles, CSV written to a file: the CLI process's peak RSS
   (sampled every 20 ms).  Target <= 250 MiB.
3. ``gwsnb chained-records --out-dir``, 50,000 and 200,000 handles: peak RSS, and RSS at a quarter of the
   run's time against its end (flat: within 50 MiB).  Target <= 200 MiB.
4. Throughput and client CPU per call of ``get_chained_records`` against the hand-written asyncio client
   of :mod:`benchmarks.bench_percall`, ``--handles`` (6,000) handles at concurrency 16, 64 and 256,
   alternating rounds in this process (``--rounds``, 3), gwsnb with ``every_handle=True`` so that both make
   the same calls; each ratio reported as the median and the worst of the rounds' own ratios.  The sandbox
   process's CPU (% of one core) during each run says whether the server is the ceiling.  Targets (issue
   26): throughput >= 0.9x in every round, CPU per call <= 1.2x.  ``--stdlib-json`` has gwsnb decode and
   encode JSON with the standard library instead of msgspec, to measure what msgspec gains;
   ``--event-log-bytes 0`` runs gwsnb without its event log, to measure what the log costs.  ``--profile`` also samples this process with py-spy during
   each gwsnb run and prints the functions that took the most samples.
5. A 5 s outage (the sandbox process killed, a new one on the same port 5 s later: HTTP sessions are gone
   too, so the client logs in again) in a 1,200-handle run at concurrency 4, defaults otherwise: the run's
   duration.  Target <= 12 s.

The machine may be shared: the ratios of row 4 are taken in the same process within seconds; absolute
figures move with the load.  Run: ``.venv/bin/python -m benchmarks.bench_engine [--quick] [--profile]``
(``--quick``: 10x fewer handles in rows 2 and 3, for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gwsnb.sandbox._calling_list import CallingList

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER
from .bench_percall import RawClient

KIB, MIB = 1024, 2**20
#: row 4's targets (issue 26): throughput ratio in every round, and client CPU per call
TARGET_RATE, TARGET_CPU = 0.9, 1.2
GWSNB = str(Path(sys.executable).parent / "gwsnb")


@dataclass
class Row:
    what: str
    measured: str
    target: str
    met: bool | None


class SandboxProcess:
    """``gwsnb sandbox`` in its own process; :meth:`bounce` kills it and starts a new one on the same port."""

    def __init__(self, chains: int) -> None:
        self.chains = chains
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> None:
        self.proc = subprocess.Popen([GWSNB, "sandbox", "--port", str(self.port), "--chains", str(self.chains),
                                      "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        while True:
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("gwsnb sandbox did not start")
            match = re.search(r"running at (\S+)", line)
            if match:
                self.url = match.group(1)
                self.port = int(re.search(r":(\d+)/", self.url).group(1))  # type: ignore[union-attr]
                break
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()

    @staticmethod
    def _drain(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class PeakRss:
    """Peak RSS of a process (and the RSS over time), sampled by a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                rss = self.process.memory_info().rss
                if rss:  # 0 once the process has exited (a zombie)
                    self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def at_fraction(self, fraction: float) -> int:
        start, end = self.samples[0][0], self.samples[-1][0]
        moment = start + (end - start) * fraction
        return next(rss for at, rss in self.samples if at >= moment)


def cli_run(url: str, handles_file: str, extra: list[str]) -> tuple[float, PeakRss]:
    env = dict(os.environ, BENCH_GWS_PW=PASSWORD)
    args = [GWSNB, "chained-records", "--url", url, "--user", USER, "--password-env", "BENCH_GWS_PW",
            "--campaign", CAMPAIGN, "--application-id", str(APPLICATION_ID), "--handles-file", handles_file,
            "--no-progress", *extra]
    started = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = PeakRss(proc.pid)
    _, err = proc.communicate()
    rss.stop()
    if proc.returncode != 0:
        raise SystemExit(f"gwsnb chained-records {' '.join(extra)}: exit {proc.returncode}: {err[-2000:]}")
    return time.monotonic() - started, rss


# --- row 1: a child process ------------------------------------------------------------------------------
def child_rss(url: str, n: int) -> None:
    """Print the RSS growth per handle of a default in-memory run of ``n`` handles (as JSON)."""
    import gwsnb

    handles = json.loads(sys.stdin.read())
    process = psutil.Process()
    with gwsnb.connect(url, USER, PASSWORD) as client:  # every default: the event log's 32 MiB included
        client.get_chained_records(handles[-200:], campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                   progress=False)
        gc.collect()
        before = process.memory_info().rss
        batch = client.get_chained_records(handles[:n], campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                           progress=False)
        gc.collect()
        after = process.memory_info().rss
        assert batch.ok, batch.summary()
        # what reading the log costs: the messages parsed, against the text kept
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        events = client.event_log.snapshot()
        read_s = time.perf_counter() - started
        parsed = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print(json.dumps({"per_handle": (after - before) / n, "log": client.event_log.nbytes,
                          "log_held": client.event_log.held_bytes(), "records": batch.record_count,
                          "parsed": parsed, "read_s": read_s, "messages": len(events)}))


def row_rss(url: str, handles: list[int], n: int = 3000) -> Row:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_engine", "--child-rss", url, "--child-n", str(n)],
                          input=json.dumps(handles[:n + 200]), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"row 1: {proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    kib = got["per_handle"] / KIB
    return Row(f"RSS growth per handle, default in-memory bulk run of {n:,} handles (event log included: "
               f"{got['log'] / MIB:.1f} MiB of text held in {got['log_held'] / MIB:.2f} MiB; reading it: "
               f"{got['messages']:,} messages, {got['parsed'] / MIB:.0f} MiB parsed, {got['read_s']:.1f} s "
               "under tracemalloc)", f"{kib:.2f} KiB", "<= 3 KiB", kib <= 3)


# --- rows 2, 3 -------------------------------------------------------------------------------------------
def row_cli_memory(url: str, handles_file: str, n: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, rss = cli_run(url, handles_file, ["--format", "csv", "--out", os.path.join(tmp, "records.csv")])
    return Row(f"CLI chained-records in memory, {n:,} handles, CSV out: peak RSS ({elapsed:.0f} s, "
               f"{n / elapsed:.0f} handles/s)", f"{rss.peak / MIB:.0f} MiB", "<= 250 MiB", rss.peak <= 250 * MIB)


def row_cli_streamed(url: str, handles_file: str, n: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, rss = cli_run(url, handles_file, ["--out-dir", os.path.join(tmp, "run")])
    quarter, end = rss.at_fraction(0.25), rss.samples[-1][1]
    flat = abs(end - quarter) <= 50 * MIB
    return Row(f"CLI streamed run (--out-dir), {n:,} handles: peak RSS ({elapsed:.0f} s, {n / elapsed:.0f} "
               f"handles/s; RSS {quarter / MIB:.0f} MiB at a quarter of the time, {end / MIB:.0f} MiB at the end)",
               f"{rss.peak / MIB:.0f} MiB", "<= 200 MiB, flat", rss.peak <= 200 * MIB and flat)


# --- row 4 -----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def py_spy(label: str, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    out = os.path.join(tempfile.gettempdir(), f"gwsnb-bench-engine-{os.getpid()}-{label}.txt")
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(os.getpid()),
                            "--format", "raw", "--rate", "200", "--nonblocking", "-o", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        spy.send_signal(2)
        spy.wait(60)
        print_profile(label, out)


def print_profile(label: str, path: str, top: int = 15) -> None:
    """The functions with the most samples (own time) and the gwsnb ones with the most (inclusive)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with contextlib.suppress(OSError), open(path) as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [f.split(" (")[0] + " (" + f.split("(")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                      for f in stack.split(";")]
            own[frames[-1]] += n
            for name in set(frames):
                inclusive[name] += n
    if not total:
        print(f"profile {label}: no samples")
        return
    print(f"profile {label} ({total} samples at 200 Hz): own time")
    for name, n in own.most_common(top):
        print(f"  {n / total:6.1%}  {name}")
    print(f"profile {label}: inclusive, gwsnb functions")
    mine = [(name, n) for name, n in inclusive.most_common() if ".py)" in name and "gwsnb" not in name
            and any(k in name for k in ("batch.py", "client.py", "correlate.py", "bulk.py", "rest.py", "cometd.py",
                                        "eventlog.py", "hygiene.py"))]
    for name, n in mine[:top]:
        print(f"  {n / total:6.1%}  {name}")


def rows_ratios(sandbox: SandboxProcess, handles: list[int], concurrencies: list[int], rounds: int,
                profile: bool, event_log_bytes: int | None = None) -> list[Row]:
    import gwsnb

    server_cpu = psutil.Process(sandbox.pid)
    loop = asyncio.new_event_loop()
    raw = RawClient(sandbox.url)
    loop.run_until_complete(raw.open())
    rows: list[Row] = []
    log = {} if event_log_bytes is None else {"event_log_bytes": event_log_bytes}
    with gwsnb.connect(sandbox.url, USER, PASSWORD, **log) as client:
        def gws(hs: list[int], concurrency: int) -> int:
            # every_handle: the same calls as the hand-written client (which calls every handle); by default
            # gwsnb calls each chain once, fewer calls for the same records
            batch = client.get_chained_records(hs, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                               concurrency=concurrency, progress=False, retries=0,
                                               every_handle=True)
            if not batch.ok:
                raise SystemExit(f"gwsnb, concurrency {concurrency}: {batch.summary()}")
            return batch.record_count

        loop.run_until_complete(raw.run(handles[:300], 16))  # warm-up
        gws(handles[:300], 16)
        for concurrency in concurrencies:
            rate_ratios, cpu_ratios, raw_rates, gws_rates, raw_cpu, gws_cpu, srv_raw, srv_gws = ([] for _ in range(8))
            for i in range(rounds):
                s0, c0, t0 = server_cpu.cpu_times(), time.process_time(), time.perf_counter()
                r_records = loop.run_until_complete(raw.run(handles, concurrency))
                r_t, r_c, s1 = time.perf_counter() - t0, time.process_time() - c0, server_cpu.cpu_times()
                with py_spy(f"gwsnb-c{concurrency}", profile and i == rounds - 1):
                    c0, t0 = time.process_time(), time.perf_counter()
                    g_records = gws(handles, concurrency)
                    g_t, g_c, s2 = time.perf_counter() - t0, time.process_time() - c0, server_cpu.cpu_times()
                if r_records != g_records:
                    raise SystemExit(f"record counts differ: raw {r_records}, gwsnb {g_records}")
                rate_ratios.append(r_t / g_t)
                cpu_ratios.append(g_c / r_c)
                raw_rates.append(len(handles) / r_t)
                gws_rates.append(len(handles) / g_t)
                raw_cpu.append(r_c / len(handles) * 1000)
                gws_cpu.append(g_c / len(handles) * 1000)
                srv_raw.append((s1.user + s1.system - s0.user - s0.system) / r_t)
                srv_gws.append((s2.user + s2.system - s1.user - s1.system) / g_t)
            med = statistics.median
            rate, cpu = med(rate_ratios), med(cpu_ratios)
            worst_rate, worst_cpu = min(rate_ratios), max(cpu_ratios)
            rows.append(Row(f"throughput vs the hand-written client, {len(handles):,} handles (every handle), "
                            f"concurrency {concurrency}, {rounds} rounds (raw {med(raw_rates):.0f}, gwsnb "
                            f"{med(gws_rates):.0f} calls/s; sandbox CPU {med(srv_raw):.0%} / {med(srv_gws):.0%} of a "
                            f"core; each round: {', '.join(f'{r:.2f}' for r in rate_ratios)})",
                            f"median {rate:.2f}x, min {worst_rate:.2f}x", f">= {TARGET_RATE}x every round",
                            worst_rate >= TARGET_RATE))
            rows.append(Row(f"client CPU per call vs that client, concurrency {concurrency} (raw "
                            f"{med(raw_cpu):.3f} ms, gwsnb {med(gws_cpu):.3f} ms; each round: "
                            f"{', '.join(f'{r:.2f}' for r in cpu_ratios)})",
                            f"median {cpu:.2f}x, max {worst_cpu:.2f}x", f"<= {TARGET_CPU}x", worst_cpu <= TARGET_CPU))
    loop.run_until_complete(raw.close())
    loop.close()
    return rows


# --- row 5 -----------------------------------------------------------------------------------------------
class _BounceAt:
    """A tqdm-like progress object that bounces the sandbox once ``at`` handles are done."""

    def __init__(self, sandbox: SandboxProcess, at: int, down_s: float) -> None:
        self.sandbox, self.at, self.down_s = sandbox, at, down_s
        self.n = 0
        self.thread: threading.Thread | None = None
        self.back_at: float | None = None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.thread is None and self.n >= self.at:
            self.thread = threading.Thread(target=self._bounce, daemon=True)
            self.thread.start()

    def _bounce(self) -> None:
        self.sandbox.stop()
        time.sleep(self.down_s)
        self.sandbox.start()
        self.back_at = time.monotonic()

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass


def row_outage(sandbox: SandboxProcess, handles: list[int], n: int = 1200, down_s: float = 5.0) -> Row:
    import gwsnb

    bouncer = _BounceAt(sandbox, n // 3, down_s)
    with gwsnb.connect(sandbox.url, USER, PASSWORD) as client:
        started = time.monotonic()
        batch = client.get_chained_records(handles[:n], campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                           concurrency=4, progress=bouncer)
        elapsed = time.monotonic() - started
    assert bouncer.thread is not None
    bouncer.thread.join(30)
    after = elapsed - (bouncer.back_at - started) if bouncer.back_at is not None else float("nan")
    ok = batch.ok and len(batch.results) == n
    return Row(f"a {down_s:.0f} s outage (sandbox process killed, a new one on the same port) in a {n:,}-handle run "
               f"at concurrency 4, defaults: run duration ({len(batch.failures)} failed; the run ended {after:.1f} s "
               "after the server's return)", f"{elapsed:.1f} s", "<= 12 s", ok and elapsed <= 12)


def print_table(rows: list[Row]) -> None:
    width = max(len(r.measured) for r in rows)
    print(f"| what | measured{' ' * (width - 8)} | target | met |")
    print("|---|---|---|---|")
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "**MISSED**")
        print(f"| {r.what} | {r.measured:<{width}} | {r.target} | {met} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=90_000, help="chains of the sandbox's list (90,000: ~206,000 "
                        "handles)")
    parser.add_argument("--handles", type=int, default=6000, help="handles of each throughput run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x fewer handles in the CLI rows")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of each gwsnb throughput run")
    parser.add_argument("--stdlib-json", action="store_true",
                        help="gwsnb decodes and encodes JSON with the standard library (msgspec's gain, row 4)")
    parser.add_argument("--rows", default="12345", help="which rows to run (digits)")
    parser.add_argument("--event-log-bytes", type=int, default=None,
                        help="row 4: gwsnb's event log budget (0: no log; what the log costs a call)")
    parser.add_argument("--child-rss", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--child-n", type=int, default=3000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_rss(args.child_rss, args.child_n)
        return
    if args.stdlib_json:
        from gwsnb._wire import jsoncodec

        jsoncodec._decode = jsoncodec._encode = None
    handles = [int(h) for h in CallingList.generate(args.chains, 1, "CallingList1").frame["record_handle"]]
    scale = 10 if args.quick else 1
    sandbox = SandboxProcess(args.chains)
    sandbox.start()
    rows: list[Row] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for n in (50_000 // scale, 200_000 // scale):
                files[n] = os.path.join(tmp, f"handles-{n}.txt")
                Path(files[n]).write_text("\n".join(map(str, handles[:n])) + "\n")
            if "1" in args.rows:
                rows.append(row_rss(sandbox.url, handles))
            if "2" in args.rows:
                rows.append(row_cli_memory(sandbox.url, files[50_000 // scale], 50_000 // scale))
            if "3" in args.rows:
                for n in (50_000 // scale, 200_000 // scale):
                    rows.append(row_cli_streamed(sandbox.url, files[n], n))
            if "4" in args.rows:
                rows.extend(rows_ratios(sandbox, handles[:args.handles], args.concurrency, args.rounds, args.profile,
                                        args.event_log_bytes))
            if "5" in args.rows:
                rows.append(row_outage(sandbox, handles))
    finally:
        sandbox.stop()
    load = os.getloadavg()
    print(f"bench_engine: one gwsnb sandbox process ({args.chains:,} chains, {len(handles):,} handles), "
          f"{os.cpu_count()} CPU(s), load average {load[0]:.1f} / {load[1]:.1f} (a shared machine: figures move with "
          f"it; ratios are taken within seconds in one process), {time.monotonic() - started:.0f} s")
    print_table(rows)


if __name__ == "__main__":
    main()
