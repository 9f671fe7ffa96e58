"""``gwsnb runs show|diff|sql`` (``runs history|journey``: :mod:`gwsnb._cli.history`): a streamed run's summary and KPIs, two runs compared, SQL over a run; and
``gwsnb sandbox-advance``: move the campaign of a sandbox running in its own process forward.

Each ``runs`` command prints a table for people and, with ``--json``, one JSON document for scripts.
Exit status 0, 2 for a folder that is not a run, runs of different campaigns or a bad query.
See docs/campaign-progress.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import InvalidParameterError

__all__ = ["add_runs", "add_sandbox_advance"]

_INDENT = "  "


def add_runs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``runs`` and its subcommands."""
    p = sub.add_parser("runs", help="a streamed run's KPIs, two runs compared, SQL over a run",
                       description="Read streamed runs (folders written by get_chained_records(out=...) or "
                                   "chained-records --out-dir).")
    runs = p.add_subparsers(dest="runs_command", metavar="SUBCOMMAND", required=True)
    show = runs.add_parser("show", help="the run's summary and KPIs", description="The run's summary and KPIs.")
    show.add_argument("run", metavar="DIR", help="the run's folder")
    show.add_argument("--now", metavar="ISO-8601", help="measure 'ready now' and 'due' at this instant "
                                                        "(default: when the run's last call was sent)")
    show.add_argument("--json", action="store_true", help="one JSON document: summary and KPI rows")
    show.set_defaults(func=_show)
    diff = runs.add_parser("diff", help="two runs of one campaign compared: KPI deltas, transitions",
                           description="Compare two runs of one campaign record by record.")
    diff.add_argument("before", metavar="DIR_BEFORE")
    diff.add_argument("after", metavar="DIR_AFTER")
    diff.add_argument("--json", action="store_true", help="one JSON document: counts, KPI deltas, transitions")
    diff.set_defaults(func=_diff)
    sql = runs.add_parser("sql", help="a DuckDB SQL query over the run's tables",
                          description="Answer a DuckDB SQL query over the run: tables records, metrics, calls "
                                      "(and latest: each record once).")
    sql.add_argument("run", metavar="DIR")
    sql.add_argument("query", metavar="QUERY")
    sql.add_argument("--json", action="store_true", help="the answer as a JSON array of objects")
    sql.set_defaults(func=_sql)
    from .history import add_history

    add_history(runs)  # runs history, runs journey: a folder of runs read together


def add_sandbox_advance(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sandbox-advance``."""
    p = sub.add_parser("sandbox-advance", help="move a running sandbox's campaign forward (a dialer's hours)",
                       description="Dial a share of a running sandbox's records as a dialer would in HOURS "
                                   "hours (Sandbox.advance), through its admin route.")
    p.add_argument("--url", required=True, help="the sandbox's URL, e.g. http://127.0.0.1:8090/api/v2")
    p.add_argument("--user", default="agent", help="the sandbox's user (default agent)")
    p.add_argument("--password-env", metavar="VAR", default="GWS_PASSWORD",
                   help="environment variable holding the password (default GWS_PASSWORD; unset: agent)")
    p.add_argument("--cacert", metavar="PEM", help="the CA file a `gwsnb sandbox --tls` printed")
    p.add_argument("--hours", type=float, default=4.0, help="hours of dialing (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the outcomes (default 0)")
    p.add_argument("--json", action="store_true", help="the sandbox's summary as JSON")
    p.set_defaults(func=_advance)


# --------------------------------------------------------------------------- output
def _fail(command: str, exc: BaseException) -> int:
    print(f"gwsnb {command}: {exc}", file=sys.stderr)
    return 2


def _json_value(value: Any) -> Any:
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _kpi_rows(frame: Any) -> list[dict[str, Any]]:
    return [{"group": str(g), "measure": str(m), "count": _json_value(c), "share": _json_value(s)}
            for g, m, c, s in zip(frame["group"], frame["measure"], frame["count"], frame["share"], strict=True)]


def _kpi_text(frame: Any) -> list[str]:
    """The KPI rows grouped; callbacks per hour only where some are due (a line says when none are)."""
    lines: list[str] = []
    group = None
    for g, m, c, s in zip(frame["group"], frame["measure"], frame["count"], frame["share"], strict=True):
        if str(g).startswith("callbacks due") and not c:
            continue
        if g != group:
            group = g
            lines.append(f"{g}:")
        share = "" if s is None or s is frame["share"].dtype.na_value or s != s else f"  {float(s):6.1%}"
        lines.append(f"{_INDENT}{str(m):<32} {int(c):>10}{share}")
    due = frame[frame["group"].str.startswith("callbacks due")]
    if not int(due["count"].sum()):
        lines.append("callbacks due in the next 24 h: none")
    return lines


# --------------------------------------------------------------------------- commands
def _show(args: argparse.Namespace) -> int:
    from ..runs import open_run

    try:
        run = open_run(args.run)
        kpis = run.kpis(now=args.now)
    except (InvalidParameterError, ValueError, ImportError) as exc:
        return _fail("runs show", exc)
    now = kpis.attrs["now"]
    if args.json:
        doc = {"path": os.fspath(run.path), "campaign_name": run.campaign_name,
               "application_id": run.application_id, "handles": run.total, "ok": run.done, "failed": run.failed,
               "remaining": run.remaining, "parts": len(run.state["parts"]), "now": now.isoformat(),
               "kpis": _kpi_rows(kpis)}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    print(f"run {os.fspath(run.path)}: campaign {run.campaign_name} (application id {run.application_id})")
    print(f"{run.summary()}; {len(run.state['parts'])} part(s); KPIs at {now.isoformat()}")
    print("each record counted once (its latest reading in the run)")
    print("\n".join(_kpi_text(kpis)))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ..progress import compare_runs

    try:
        comparison = compare_runs(args.before, args.after)
    except (InvalidParameterError, ImportError) as exc:
        return _fail("runs diff", exc)
    try:
        if args.json:
            print(json.dumps(comparison.to_dict(), ensure_ascii=False, indent=1))
            return 0
        print(f"{os.fspath(comparison.before.path)} -> {os.fspath(comparison.after.path)}: "
              f"campaign {comparison.after.campaign_name}")
        print(comparison.summary())
        print("each record counted once per run (its latest reading in the run)")
        deltas = comparison.kpi_deltas()
        shown = deltas[(deltas["delta"] != 0) | deltas["group"].isin(["list", "progress"])]
        print("KPI deltas (before -> after):")
        for g, m, b, a, d in zip(shown["group"], shown["measure"], shown["before"], shown["after"], shown["delta"],
                                 strict=True):
            print(f"{_INDENT}{str(g) + ': ' + str(m):<48} {int(b):>9} -> {int(a):>9}  {int(d):+d}")
        for field in ("record_status", "call_result"):
            moves = comparison.transition_counts(field)
            print(f"{field} transitions ({sum(n for *_, n in moves)} record(s) moved):")
            for before, after, n in moves:
                print(f"{_INDENT}{before} -> {after}: {n}")
        return 0
    finally:
        comparison.close()


def _sql(args: argparse.Namespace) -> int:
    from ..runs import open_run

    try:
        run = open_run(args.run)
        answer = run.sql(args.query)
    except (InvalidParameterError, ImportError) as exc:
        return _fail("runs sql", exc)
    except Exception as exc:  # DuckDB's own errors (syntax, unknown column): its message names the problem
        if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
            raise
        return _fail("runs sql", exc)
    from .. import frames

    if args.json:
        print(frames.to_json(answer))
    else:
        print(frames.readable(answer).to_string(index=False))
    return 0


def _advance(args: argparse.Namespace) -> int:
    from ..sandbox import remote_advance

    password = os.environ.get(args.password_env, "agent")
    try:
        summary = remote_advance(args.url, args.user, password, hours=args.hours, seed=args.seed,
                                 verify=args.cacert or True)
    except (ValueError, PermissionError, OSError) as exc:
        return _fail("sandbox-advance", exc)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    results = ", ".join(f"{code}: {n}" for code, n in summary["call_results"].items())
    print(f"dialed {summary['dialed']} of {summary['dialable_chains']} dialable chain(s) over {summary['hours']} h "
          f"(seed {summary['seed']}); call results by code: {results or 'none'}")
    for key in ("completed", "rescheduled", "personal callback", "campaign callback", "do not call", "added"):
        print(f"{_INDENT}{key}: {summary.get(key, 0)}")
    return 0
