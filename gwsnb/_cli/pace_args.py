"""The pace options of ``gwsnb chained-records`` (``--concurrency auto|N``, ``--max-concurrency``, ``--rate``,
``--max-calls``, ``--window``, ``--tz``) and ``--plan``: one :class:`gwsnb.Pace` built from them, checked by
its own rules (a violation is reported argparse's way by the subcommand, naming the option)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..pace import Pace

__all__ = ["add_pace_options", "pace_of", "print_plan"]


def add_pace_options(p: argparse.ArgumentParser) -> None:
    """Register the pace options and ``--plan`` on the subcommand's parser."""
    g = p.add_argument_group("pace (docs/production.md)")
    g.add_argument("--concurrency", metavar="auto|N", default=None,
                   help="calls in flight at once, or 'auto' to follow the server's latency (default 16)")
    g.add_argument("--max-concurrency", metavar="N", default=None,
                   help="the most calls in flight with --concurrency auto (default 64)")
    g.add_argument("--rate", metavar="PER_S", default=None,
                   help="at most this many calls per second across the run (default: no cap)")
    g.add_argument("--max-calls", metavar="N", default=None,
                   help="send at most N calls (retries included), then stop cleanly; with --out-dir, "
                        "--resume goes on (exit status 3 when the budget stopped the run)")
    g.add_argument("--window", metavar="HH:MM-HH:MM", default=None,
                   help="send only within these daily windows (several joined by commas; '20:00-07:00' "
                        "runs past midnight); outside them the run waits")
    g.add_argument("--tz", metavar="ZONE", default=None,
                   help="time zone of --window, an IANA name like Europe/Paris (default: the machine's)")
    g.add_argument("--plan", action="store_true",
                   help="print the plan (calls, pace, duration, windows) from a sample of --plan-sample "
                        "handles and exit; nothing else is called")
    g.add_argument("--plan-sample", metavar="N", default="200", help="handles the plan calls (default 200)")


def _number(text: str | None) -> Any:
    """A number typed on the command line, or the text itself (then :class:`Pace` names it as invalid)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def pace_of(args: argparse.Namespace) -> Pace:
    """The :class:`Pace` of the options.

    :raises InvalidParameterError: naming the field (the option) and the value.
    """
    settings: dict[str, Any] = {}
    if args.concurrency is not None:
        settings["concurrency"] = args.concurrency
    if args.max_concurrency is not None:
        settings["max_concurrency"] = args.max_concurrency
    if args.rate is not None:
        settings["rate"] = _number(args.rate)
    for name in ("max_calls", "window", "tz"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return Pace(**settings)


def print_plan(client: Any, handles: list[int], args: argparse.Namespace, pace: Pace) -> int:
    """Make the plan, print it to stdout; exit status 0.

    :raises InvalidParameterError: a bad ``--plan-sample`` (field ``sample``) or another argument.
    """
    plan = client.plan(handles, campaign_name=args.campaign, application_id=args.application_id,
                       device_path=args.device, pace=pace, sample=_sample(args.plan_sample),
                       every_handle=args.every_handle)
    sys.stdout.write(str(plan) + "\n")
    sys.stdout.flush()
    return 0


def _sample(text: str) -> Any:
    return int(text) if text.strip().isdigit() else text
