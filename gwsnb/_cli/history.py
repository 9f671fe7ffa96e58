"""``gwsnb runs history DIR`` (KPIs over time) and ``gwsnb runs journey DIR HANDLE`` (one record across
the runs) over the history in a folder (:func:`gwsnb.open_history`).  A table for people, one JSON document
with ``--json``.  Exit status 0; 1 when the record is in none of the runs; 2 for a folder without a
history or a measure the KPIs do not have.  See docs/history.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import InvalidParameterError

__all__ = ["add_history"]

#: the measures shown by default (``callbacks due``: both kinds over the next 24 hours)
SHOWN = ("records", "list penetration", "finished", "ready now", "scheduled later", "do not call", "callbacks due")


def add_history(runs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``runs history`` and ``runs journey``."""
    history = runs.add_parser("history", help="the KPIs of a folder of runs over time",
                              description="The KPIs of each run of one campaign in DIR (at any depth), in time "
                                          "order; runs of other campaigns and incomplete runs are listed and "
                                          "left out.")
    history.add_argument("folder", metavar="DIR", help="the history's folder")
    history.add_argument("--measure", action="append", metavar="NAME",
                         help="a measure to show (repeatable): records, list penetration, finished, ready now, "
                              "scheduled later, do not call, callbacks due, or any KPI measure (default: those)")
    history.add_argument("--campaign", help="the campaign to read (default: the one with the most runs)")
    history.add_argument("--json", action="store_true", help="one JSON document: runs, left out, KPI rows")
    history.set_defaults(func=_history)
    journey = runs.add_parser("journey", help="one record across the runs of a history",
                              description="One record (or, with --chain, each record of a chain) in each run of "
                                          "the history in DIR: its status, type, result, attempts, dial_sched_time "
                                          "and what changed since the run before.")
    journey.add_argument("folder", metavar="DIR")
    journey.add_argument("handle", metavar="HANDLE", help="a record handle (a chain_id with --chain)")
    journey.add_argument("--chain", action="store_true", help="HANDLE is a chain_id: every record of the chain")
    journey.add_argument("--campaign", help="the campaign to read (default: the one with the most runs)")
    journey.add_argument("--json", action="store_true", help="the rows as a JSON array of objects")
    journey.set_defaults(func=_journey)


def _fail(command: str, exc: BaseException | str, status: int = 2) -> int:
    print(f"gwsnb runs {command}: {exc}", file=sys.stderr)
    return status


def _value(value: Any) -> Any:
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _table(kpis: Any, measures: list[str]) -> Any:
    """One row per run, one column per measure (counts; penetration also as a share)."""
    import pandas as pd

    due = kpis[kpis["group"].str.startswith("callbacks due")].groupby("run")["count"].sum()
    known = set(kpis["measure"]) | {"callbacks due"}
    unknown = [m for m in measures if m not in known]
    if unknown:
        raise InvalidParameterError("measure", unknown[0], "not a measure of the KPIs (see docs/campaign-progress.md)")
    runs = kpis.drop_duplicates("run").set_index("run")
    table = pd.DataFrame({"time": runs["time"].dt.strftime("%Y-%m-%d %H:%M:%S"), "name": runs["name"]})
    for measure in measures:
        if measure == "callbacks due":
            table[measure] = due.reindex(table.index).fillna(0).astype("int64")
            continue
        rows = kpis[kpis["measure"] == measure]
        table[measure] = rows.groupby("run")["count"].sum().reindex(table.index).fillna(0).astype("int64")
        if measure == "list penetration":
            share = rows.groupby("run")["share"].first().reindex(table.index)
            table["penetration %"] = (share.astype("float64") * 100).round(1)
    return table


def _history(args: argparse.Namespace) -> int:
    from ..history import open_history

    try:
        history = open_history(args.folder, campaign_name=args.campaign)
        kpis = history.kpis()
        measures = args.measure or list(SHOWN)
        table = _table(kpis, measures)
    except (InvalidParameterError, ImportError) as exc:
        return _fail("history", exc)
    if args.json:
        wanted = kpis[kpis["measure"].isin(measures)] if args.measure else kpis
        doc = {"path": os.fspath(history.path), "campaign_name": history.campaign_name,
               "application_id": history.application_id,
               "runs": [{k: _value(v) for k, v in row.items()} for row in history.runs_frame().to_dict("records")],
               "left_out": [{"path": os.fspath(x.path), "reason": x.reason} for x in history.left_out],
               "kpis": [{k: _value(row[k]) for k in ("run", "time", "group", "measure", "count", "share")}
                        for row in wanted.to_dict("records")]}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    print(history.summary())
    print("each record counted once per run (its latest reading); a run's time: its last call sent (UTC)")
    print(table.to_string())
    for left in history.left_out:
        print(f"left out: {left}")
    return 0


def _journey(args: argparse.Namespace) -> int:
    from .. import frames
    from ..history import open_history

    try:
        history = open_history(args.folder, campaign_name=args.campaign)
        frame = history.journey(chain_id=args.handle) if args.chain else history.journey(args.handle)
    except (InvalidParameterError, ImportError) as exc:
        return _fail("journey", exc)
    what = f"chain {args.handle}" if args.chain else f"record handle {args.handle}"
    if frame.empty:
        return _fail("journey", f"{what} is in none of the {len(history)} run(s) of {history.path}", 1)
    if args.json:
        print(frames.to_json(frame))
        return 0
    print(f"{what} in {frame['run'].nunique()} of {len(history)} run(s) of campaign {history.campaign_name}")
    shown = frames.readable(frame.drop(columns=["name"])).astype(object)
    print(shown.where(shown.notna(), "").to_string(index=False))
    return 0
