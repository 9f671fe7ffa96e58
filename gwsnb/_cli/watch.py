"""``gwsnb watch``: the messages of a CometD session as lines, until Ctrl-C or ``--duration``.

What a person watches for there is what arrives unsolicited (campaign messages, another session's
notifications, the server's advice) and the alerts of :mod:`gwsnb._engine.watch` (docs/watch.md).  One
line per message (``--json``: one JSON object per line, ``"type": "message"`` or ``"alert"``); the
password comes from ``--password-env VAR`` or is asked for without echo, and is never printed.
Exit status 0 when the watch ran, 1 when it could not connect, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TextIO

from .._display import watch as view
from .._engine.watch import WatchCore
from ..errors import GwsError, InvalidParameterError
from .args import seconds_arg
from .chained_records import _password

__all__ = ["add_watch", "run_watch"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: how often new rows are printed (seconds)
PRINT_INTERVAL_S = 0.25


def add_watch(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``watch`` subcommand."""
    p = sub.add_parser(
        "watch",
        help="print the messages of a CometD session as they arrive, with alerts",
        description="Log in, open a CometD session (subscribed to /v2/me/outbound) and print every message it "
                    "receives, with alerts for 402s, gaps between connects, connects cut before the advised "
                    "timeout, foreign referenceIds and multiple-clients advice, until Ctrl-C or --duration.",
    )
    p.add_argument("--url", required=True, help="GWS API base, e.g. http://127.0.0.1:8090/api/v2")
    p.add_argument("--user", required=True, help="GWS user name")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the password (default: ask, without echo)")
    p.add_argument("--duration", type=seconds_arg, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    p.add_argument("--notifications-path", default=None, metavar="P",
                   help="the CometD endpoint relative to --url, or a full URL (default /notifications)")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    tls.add_argument("--ca-file", metavar="F", help="verify the server's TLS certificate against this CA bundle")
    p.set_defaults(func=run_watch, _parser=p)


def run_watch(args: argparse.Namespace, *, stop: threading.Event | None = None, out: TextIO | None = None) -> int:
    """Run ``gwsnb watch``; ``stop`` ends it early (tests), ``out`` replaces stdout."""
    from .. import protocol
    from ..client import connect

    out = out if out is not None else sys.stdout
    try:
        password = _password(args)
    except InvalidParameterError as exc:
        print(f"gwsnb watch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = connect(args.url, args.user, password, verify=args.ca_file or not args.insecure,
                         notifications_path=args.notifications_path or protocol.NOTIFICATIONS_PATH)
    except InvalidParameterError as exc:
        print(f"gwsnb watch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GwsError as exc:
        print(f"gwsnb watch: cannot connect to {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        del password
    try:
        core = WatchCore(client._own_references, lambda: client.clock_offset)
        assert client._cometd is not None
        client._cometd.observers.append(core)
        print(f"gwsnb watch: {args.url} as {args.user}; "
              + (f"{args.duration:g} s" if args.duration else "Ctrl-C to stop"), file=sys.stderr, flush=True)
        try:
            _print_loop(core, args, stop or threading.Event(), out)
        except KeyboardInterrupt:
            pass
        finally:
            client._cometd.observers.remove(core)
        print(f"gwsnb watch: {view.header(core, state='stopped')}", file=sys.stderr, flush=True)
    finally:
        client.close()
    return EXIT_OK


class _Seen:
    """How far the printing got: the last row's seq and the number of alerts printed."""

    def __init__(self) -> None:
        self.seq = 0
        self.alerts = 0


def _print_loop(core: WatchCore, args: argparse.Namespace, stop: threading.Event, out: TextIO) -> None:
    """Print what arrives every :data:`PRINT_INTERVAL_S` until ``stop``, the duration or Ctrl-C; then the rest."""
    deadline = time.monotonic() + args.duration if args.duration else None
    seen = _Seen()
    try:
        while not stop.wait(PRINT_INTERVAL_S):
            _print_new(core, args.json, out, seen)
            if deadline is not None and time.monotonic() >= deadline:
                return
    finally:
        _print_new(core, args.json, out, seen)


def _print_new(core: WatchCore, as_json: bool, out: TextIO, seen: _Seen) -> None:
    """Print the rows and alerts that arrived since the last call (a row the buffer lost is counted)."""
    for alert in core.alert_list(since=seen.alerts):
        out.write((view.alert_json(alert) if as_json else view.alert_line(alert)) + "\n")
    seen.alerts = core.alert_total
    rows = core.rows(since=seen.seq)
    if rows and rows[0]["seq"] > seen.seq + 1:
        lost = rows[0]["seq"] - seen.seq - 1
        out.write((f'{{"type": "dropped", "messages": {lost}}}' if as_json
                   else f"... {lost} message(s) arrived faster than they could be printed (not shown)") + "\n")
    for row in rows:
        out.write((view.row_json(row) if as_json else view.row_line(row)) + "\n")
    if rows:
        seen.seq = rows[-1]["seq"]
    out.flush()
