"""The ``gwsnb`` command. Subcommands register themselves in :func:`build_parser`.

``gwsnb sandbox`` runs the GWS sandbox in the foreground until Ctrl-C or SIGTERM.
``gwsnb chained-records`` runs GetChainedRecord for many handles (see :mod:`gwsnb._cli.chained_records`).
``gwsnb snapshot`` takes a run every ``--every`` (see :mod:`gwsnb._cli.snapshot`, docs/history.md).
``gwsnb doctor`` checks a GWS setup step by step (see :mod:`gwsnb._cli.doctor`, docs/doctor.md).
``gwsnb runs show|diff|sql`` reads streamed runs; ``gwsnb sandbox-advance`` moves a running sandbox's
campaign forward (see :mod:`gwsnb._cli.runs`).
``gwsnb watch`` prints the messages of a CometD session as they arrive (see :mod:`gwsnb._cli.watch`).
``gwsnb capture show|redact`` reads and redacts HTTP captures (HAR) (see :mod:`gwsnb._cli.capture`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._cli.args import at_least, handles_arg
from ._cli.capture import add_capture
from ._cli.chained_records import add_chained_records
from ._cli.doctor import add_doctor
from ._cli.exposure import exposure_warning
from ._cli.runs import add_runs, add_sandbox_advance
from ._cli.snapshot import add_snapshot
from ._cli.watch import add_watch

__all__ = ["build_parser", "main"]


_non_negative_float = at_least(float, 0)
_positive_int = at_least(int, 1)


def _add_sandbox(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run the local GWS sandbox in the foreground",
        description="Run the GWS sandbox (REST + CometD) until Ctrl-C or SIGTERM.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1); any other than loopback prints a warning")
    p.add_argument("--port", type=int, default=8090, help="TCP port, 0 for a free one (default 8090)")
    p.add_argument("--chains", type=int, default=1000, help="chains in the generated calling list (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated calling list (default 1)")
    p.add_argument("--calling-list", metavar="FILE.csv", help="load the calling list from a CSV with OCS column names")
    p.add_argument("--user", default="agent", help="user name (default agent)")
    p.add_argument("--password", default="agent",
                   help="password (default agent); choose one when --host is not a loopback address")
    p.add_argument("--devices", type=int, default=1, help="devices of the user (default 1)")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a throwaway CA (needs trustme); its PEM file is printed")
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--latency-ms", type=_non_negative_float, default=0.0, help="delay before each notification")
    faults.add_argument("--drop-data-end", action="store_true", help="never send ChainedRecordsDataEnd")
    faults.add_argument("--duplicate", action="store_true", help="deliver every notification twice")
    faults.add_argument("--reorder", action="store_true", help="shuffle the notifications of each call")
    faults.add_argument("--error-handles", type=handles_arg, default=[], metavar="7,9,20-30",
                        help="record handles answered with the asynchronous Error notification")
    faults.add_argument("--clock-offset-ms", type=float, default=0.0, metavar="N",
                        help="the server's clock runs N ms ahead of this machine's (negative: behind)")
    _add_capacity_flags(p)
    wrong = p.add_argument_group("misconfiguration (what gwsnb doctor diagnoses; docs/doctor.md)")
    wrong.add_argument("--misconfigure", metavar="NAME[,NAME...]", default=None,
                       help="play server-side misconfigurations, e.g. session_not_sticky,cometd_path")
    wrong.add_argument("--variant", metavar="NAME[,NAME...]", default=None,
                       help="healthy differences of a real GWS: no_features_list, no_csrf, balancer_cookie")
    p.set_defaults(func=_run_sandbox)


def _add_capacity_flags(p: argparse.ArgumentParser) -> None:
    cap = p.add_argument_group("capacity and pushback (docs/guides/sandbox.md#capacity-and-pushback)")
    cap.add_argument("--capacity", type=_positive_int, default=None, metavar="N",
                     help="serve at most N GetChainedRecord requests at once, the others wait (default: unlimited)")
    cap.add_argument("--service-ms", type=_non_negative_float, default=0.0, metavar="S",
                     help="each request is served S ms before its notifications (default 0)")
    cap.add_argument("--queue-limit", type=int, default=None, metavar="Q",
                     help="beyond Q waiting requests answer HTTP 503 with Retry-After (default: no limit)")
    cap.add_argument("--capacity-schedule", default=None, metavar="T:N,...",
                     help='capacity over time, seconds since start -> N, e.g. "0:32,20:8,40:32"')
    cap.add_argument("--throttle-429", type=_non_negative_float, default=None, metavar="RATE",
                     help="answer HTTP 429 with Retry-After above RATE GetChainedRecord requests/s")
    cap.add_argument("--retry-after", type=_non_negative_float, default=1.0, metavar="S",
                     help="the Retry-After of the 503 and 429 answers, in seconds (default 1)")
    cap.add_argument("--retry-after-date", action="store_true",
                     help="send that Retry-After as an HTTP date instead of seconds")
    cap.add_argument("--fail-calls", choices=("http500", "timeout"), default=None,
                     help="every GetChainedRecord answers HTTP 500, or is acknowledged and never answered")


def _run_sandbox(args: argparse.Namespace) -> int:
    from ._cli.signals import StopSignals
    from .sandbox import CallingListError, Faults, Sandbox

    faults = Faults(
        latency_ms=args.latency_ms,
        drop_data_end=args.drop_data_end,
        duplicate=args.duplicate,
        reorder=args.reorder,
        error_handles=set(args.error_handles),
        clock_offset_ms=args.clock_offset_ms,
        fail_calls=args.fail_calls,
    )
    with StopSignals() as stop:
        try:
            sb = Sandbox(
                chains=args.chains,
                seed=args.seed,
                calling_list=args.calling_list,
                username=args.user,
                password=args.password,
                port=args.port,
                host=args.host,
                devices=args.devices,
                faults=faults,
                tls=args.tls,
                misconfigure=args.misconfigure,
                variants=args.variant,
                capacity=args.capacity,
                service_ms=args.service_ms,
                queue_limit=args.queue_limit,
                capacity_schedule=args.capacity_schedule,
                throttle_429=args.throttle_429,
                retry_after_s=args.retry_after,
                retry_after_date=args.retry_after_date,
            )
            sb.start()
        except (CallingListError, ValueError, OSError, RuntimeError) as exc:
            print(f"gwsnb sandbox: {exc}", file=sys.stderr)
            return 2
        try:
            warning = exposure_warning(args.host, sb.port, sb.username, args.password, args.calling_list)
            if warning is not None:
                print(warning, file=sys.stderr, flush=True)
            handles = ", ".join(str(h) for h in sb.record_handles)
            print(f"GWS sandbox running at {sb.url}")
            # Only the well-known default password is echoed; a chosen one stays out of the output.
            default_pw = args.password == "agent"
            shown = sb.password if default_pw else "(as given with --password)"
            print(f"  user / password : {sb.username} / {shown}")
            print(f"  device path     : {sb.device_path}")
            print(f"  campaign        : {sb.campaign_name} (calling list {sb.calling_list_name})")
            print(f"  application id  : {sb.application_id}")
            print(f"  record handles  : {handles}  ({len(sb.calling_list)} records)")
            if sb.capacity is not None or args.capacity_schedule or args.throttle_429 is not None:
                print(f"  capacity        : {_capacity_line(args)}")
                print(f"  server's side   : GET {sb.url[: -len('/api/v2')]}/sandbox/stats (Basic auth)")
            if sb.misconfigured:
                print(f"  misconfigured   : {', '.join(sorted(sb.misconfigured))}  (try: gwsnb doctor)")
            if sb.ca_path is not None:
                print(f"  CA certificate  : {sb.ca_path}  (connect with verify= this path)")
            ca = f"--cacert {sb.ca_path} " if sb.ca_path is not None else ""
            print(f"  try: curl {ca}-u {sb.username}:{sb.password if default_pw else 'PASSWORD'} {sb.url}/me")
            cacert = f" --cacert {sb.ca_path}" if sb.ca_path is not None else ""
            print(f"  advance its campaign: gwsnb sandbox-advance --url {sb.url}{cacert} --hours 4 --seed 7")
            print("Press Ctrl-C to stop.", flush=True)
            stop.wait()
        finally:
            requests = sb.chained_record_requests()
            stats = sb.stats()
            sb.stop()
        print(f"GWS sandbox stopped: {sum(requests.values())} GetChainedRecord request(s) for {len(requests)} "
              "handle(s).", flush=True)
        if stats["rejected_503"] or stats["rejected_429"] or stats["queue_wait_ms"]["max"]:
            wait = stats["queue_wait_ms"]
            print(f"  since the last stats reset: {stats['processed']} served, queue wait p50 "
                  f"{wait['p50'] or 0:.1f} ms, p95 {wait['p95'] or 0:.1f} ms; {stats['rejected_503']} answered 503, "
                  f"{stats['rejected_429']} 429", flush=True)
        return 0


def _capacity_line(args: argparse.Namespace) -> str:
    parts = [f"{args.capacity if args.capacity is not None else 'unlimited'} at once",
             f"{args.service_ms:g} ms each"]
    if args.queue_limit is not None:
        parts.append(f"queue limit {args.queue_limit} (then 503)")
    if args.capacity_schedule:
        parts.append(f"schedule {args.capacity_schedule}")
    if args.throttle_429 is not None:
        parts.append(f"429 above {args.throttle_429:g}/s")
    return ", ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gwsnb`` with every subcommand."""
    parser = argparse.ArgumentParser(prog="gwsnb", description="GWS v2 Outbound tools for notebooks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_sandbox(sub)
    add_chained_records(sub)
    add_snapshot(sub)  # after chained-records: it inherits every option of it
    add_doctor(sub)
    add_runs(sub)
    add_sandbox_advance(sub)
    add_watch(sub)
    add_capture(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gwsnb`` console script; returns the exit status."""
    # The command owns its process, so it picks pyarrow's allocator (a library must not): the system's
    # gives freed memory back, pyarrow's default (mimalloc) keeps it, which a streamed run's RSS showed
    # (docs/performance.md). Read when pyarrow loads (not loaded yet in the console script); a user's own
    # setting wins.
    if "pyarrow" not in sys.modules:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
