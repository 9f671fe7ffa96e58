"""A million handles: a whole calling list streamed by the command line, each chain once and every handle.

``gwsnb sandbox`` runs in its own process with a generated list of ``--chains`` chains (440,000 chains:
1,006,883 records, seed 1); ``gwsnb chained-records --handles 1-N --out-dir DIR`` (concurrency 16, the
other options at their defaults) streams handles 1..N (``--handles``, default 1,000,000) to a Parquet run,
once calling each chain once (the default) and once with ``--every-handle``; each run gets a fresh
sandbox process.  Reported per run: wall time of the command, handles/s, the GetChainedRecord requests
the sandbox received (printed by ``gwsnb sandbox`` when it stops) and per chain, the record rows written,
the command's peak RSS (psutil, sampled every 0.2 s) and its RSS when a quarter, half, three quarters
and all of the handles were written (flat: the spread of those), the command's CPU seconds and the
sandbox's CPU seconds over the run.

Targets: each chain once <= 3 min and client peak RSS <= 150 MiB, flat (issue 26); every handle <= 10 min
and <= 200 MiB, flat (issue 20); calls <= 1.1 per chain (each chain once).

``--event-log-bytes N`` runs the same command with an event log of N bytes instead of the command line's
1 MiB (the command line has no option for it), to show what the client's event log adds to the RSS.

Run: ``make bench-1m`` or ``.venv/bin/python -m benchmarks.bench_1m [--handles 1000000] [--mode once every]``
(not part of ``make bench``: it takes a quarter of an hour to half an hour).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER

MIB = 2**20
GWSNB = str(Path(sys.executable).parent / "gwsnb")
TARGET_S = {"once": 180.0, "every": 600.0}
TARGET_RSS_MIB = {"once": 150.0, "every": 200.0}
TARGET_CALLS_PER_CHAIN = 1.1
#: the command line with another event-log budget: ``python -c WRAPPER BYTES chained-records ...``
WRAPPER = ("import sys; import gwsnb._cli.chained_records as c; c.CLI_EVENT_LOG_BYTES = int(sys.argv[1]); "
           "from gwsnb.cli import main; sys.exit(main(sys.argv[2:]))")


@dataclass
class Sampled:
    """RSS and progress of the command, sampled by a thread."""

    process: psutil.Process
    state_file: Path
    total: int
    peak: int = 0
    at: dict[int, int] = field(default_factory=dict)  # quarter (1..4) -> RSS when reached
    cpu_s: float = 0.0
    last: int = 0

    def run(self, stop: threading.Event) -> None:
        last_state = 0.0
        while not stop.wait(0.2):
            try:
                rss = self.process.memory_info().rss
                times = self.process.cpu_times()
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.last = rss
            self.cpu_s = times.user + times.system
            if time.monotonic() - last_state >= 1.0:
                last_state = time.monotonic()
                finished = self._finished()
                for quarter in range(1, 5):
                    if quarter not in self.at and finished >= self.total * quarter // 4:
                        self.at[quarter] = rss

    def _finished(self) -> int:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return 0
        return sum(last - first + 1 for first, last in state["done"])


@contextlib.contextmanager
def sandbox(chains: int):  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([GWSNB, "sandbox", "--port", "0", "--chains", str(chains), "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = records = None
        started = time.monotonic()
        while records is None:
            line = proc.stdout.readline()
            if not line or time.monotonic() - started > 300:
                raise RuntimeError("gwsnb sandbox did not start")
            if (match := re.search(r"running at (\S+)", line)) is not None:
                url = match.group(1)
            if (match := re.search(r"\((\d+) records\)", line)) is not None:
                records = int(match.group(1))
        yield proc, url, records, time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()


def _requests(proc: subprocess.Popen[str]) -> int:
    """Stop the sandbox and read the GetChainedRecord requests it received."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    match = re.search(r"stopped: (\d+) GetChainedRecord request", out)
    if match is None:
        raise RuntimeError(f"no request count in the sandbox's output: {out[-500:]!r}")
    return int(match.group(1))


def one_run(mode: str, chains: int, handles: int, concurrency: int, folder: Path,
            event_log_bytes: int | None = None) -> dict[str, object]:
    out = folder / f"run-{mode}"
    with sandbox(chains) as (sb, url, records, startup_s):
        sb_process = psutil.Process(sb.pid)
        sb_before = sb_process.cpu_times()
        command = [GWSNB] if event_log_bytes is None else [sys.executable, "-c", WRAPPER, str(event_log_bytes)]
        args = [*command, "chained-records", "--url", url, "--user", USER, "--password-env", "BENCH_1M_PW",
                "--campaign", CAMPAIGN, "--application-id", str(APPLICATION_ID), "--handles", f"1-{handles}",
                "--concurrency", str(concurrency), "--out-dir", str(out), "--no-progress"]
        if mode == "every":
            args.append("--every-handle")
        started = time.monotonic()
        cli = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "BENCH_1M_PW": PASSWORD})
        sampled = Sampled(psutil.Process(cli.pid), out / "_state.json", handles)
        stop = threading.Event()
        sampler = threading.Thread(target=sampled.run, args=(stop,), daemon=True)
        sampler.start()
        stdout, stderr = cli.communicate()
        wall = time.monotonic() - started
        stop.set()
        sampler.join()
        sampled.at.setdefault(4, sampled.last)  # the command ended between two looks at its state
        sb_after = sb_process.cpu_times()
        calls = _requests(sb)
    if cli.returncode != 0:
        raise RuntimeError(f"gwsnb chained-records exited {cli.returncode}: {stderr[-2000:]}")
    import gwsnb

    run = gwsnb.open_run(out)
    chain_ids = run.records_frame(columns=["chain_id"])["chain_id"]
    return {
        "mode": mode, "list_records": records, "sandbox_startup_s": startup_s, "handles": handles,
        "wall_s": wall, "handles_per_s": handles / wall, "calls": calls, "chains": int(chain_ids.nunique()),
        "rows": len(chain_ids), "called": run.called, "covered": run.covered, "failed": run.failed,
        "peak_rss_mib": sampled.peak / MIB, "rss_quarters_mib": [sampled.at.get(q, 0) / MIB for q in range(1, 5)],
        "client_cpu_s": sampled.cpu_s,
        "sandbox_cpu_s": (sb_after.user + sb_after.system) - (sb_before.user + sb_before.system),
        "summary": stderr.strip().splitlines()[-1] if stderr.strip() else "",
        "event_log_bytes": event_log_bytes,
    }


def report(r: dict[str, object]) -> str:
    wall, calls, chains = float(r["wall_s"]), int(r["calls"]), int(r["chains"])  # type: ignore[arg-type]
    quarters = r["rss_quarters_mib"]
    assert isinstance(quarters, list)
    spread = max(quarters) - min(quarters)
    peak = float(r["peak_rss_mib"])  # type: ignore[arg-type]
    mode = str(r["mode"])
    ok = wall <= TARGET_S[mode] and peak <= TARGET_RSS_MIB[mode]
    if mode == "once":
        ok = ok and calls / chains <= TARGET_CALLS_PER_CHAIN
    name = "each chain once" if mode == "once" else "--every-handle"
    if r["event_log_bytes"] is not None:
        name += f" (event_log_bytes={r['event_log_bytes']})"
    return "\n".join([
        f"{name}: {r['handles']:,} handles in {wall:.0f} s ({wall / 60:.1f} min, target <= {TARGET_S[mode] / 60:.0f} "
        f"min), {r['handles_per_s']:,.0f} handles/s",
        f"  calls (sandbox's count) {calls:,} for {chains:,} chains: {calls / chains:.3f} per chain; "
        f"called {r['called']:,}, covered {r['covered']:,}, failed {r['failed']}; {r['rows']:,} record rows",
        f"  client peak RSS {peak:.0f} MiB (target <= {TARGET_RSS_MIB[mode]:.0f}); at 1/4, 1/2, 3/4, all handles: "
        + ", ".join(f"{q:.0f}" for q in quarters) + f" MiB (spread {spread:.0f} MiB)",
        f"  client CPU {r['client_cpu_s']:.0f} s ({float(r['client_cpu_s']) / wall:.0%} of a core); "  # type: ignore[arg-type]
        f"sandbox CPU {r['sandbox_cpu_s']:.0f} s ({float(r['sandbox_cpu_s']) / wall:.0%} of a core); "  # type: ignore[arg-type]
        f"sandbox start {r['sandbox_startup_s']:.1f} s ({r['list_records']:,} records)",
        f"  {r['summary']}",
        f"  targets {'met' if ok else 'MISSED'}",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=1_000_000)
    parser.add_argument("--chains", type=int, default=440_000, help="chains of the generated list")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mode", nargs="+", choices=("once", "every"), default=["once", "every"])
    parser.add_argument("--event-log-bytes", type=int, help="the command's event-log budget in bytes (default: the command line's 1 MiB)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="gwsnb-bench-1m-") as tmp:
        for mode in args.mode:
            result = one_run(mode, args.chains, args.handles, args.concurrency, Path(tmp), args.event_log_bytes)
            text = report(result)
            print(text, flush=True)
            failed += "MISSED" in text
    print(f"load average {os.getloadavg()[0]:.1f} at the end (a loaded machine stretches the wall time: "
          "the client CPU seconds move less)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
