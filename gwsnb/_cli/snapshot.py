"""Snapshots on a schedule: ``gwsnb snapshot`` and ``chained-records --every 1h --until 18:00 --keep 48``.

Each snapshot is an ordinary streamed run of the same handles (every option of ``chained-records``
passes through unchanged to each run: concurrency, retries, and whatever later options it grows), in a
folder of its own named by the ``--out-dir`` template (``runs/{now:%Y%m%dT%H%M}``; a plain ``--out-dir
DIR`` means ``DIR/run={utc:%Y%m%dT%H%M%SZ}``).  The slots are ``start + k × every``; a slot missed while a
snapshot ran long is taken at once, the other missed ones skipped (never two snapshots back to back to
catch up).  A snapshot interrupted earlier (the process stopped, the machine restarted) is resumed in its
own folder instead of starting a new one.  ``--keep N`` removes the oldest runs of the campaign in the
history folder beyond the newest N.  See docs/history.md.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..params import check_instant, expand_folder, folder_base

__all__ = ["DEFAULT_NAME", "add_schedule_options", "add_snapshot", "check_schedule", "parse_every", "parse_until",
           "prune", "run_snapshots"]

#: the folder of each snapshot under a plain --out-dir DIR: Hive-style (run=...), UTC, to the second
DEFAULT_NAME = "run={utc:%Y%m%dT%H%M%SZ}"
MIN_EVERY_S = 1.0
MAX_EVERY_S = 7 * 86_400.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_every(text: str) -> float:
    """Seconds from ``90``, ``30s``, ``15m``, ``1h``, ``1h30m``, ``1d``: between 1 s and 7 days.

    :raises argparse.ArgumentTypeError: anything else.
    """
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        pieces = _DURATION.findall(value)
        if not pieces or "".join(n + u for n, u in pieces) != value:
            raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 15m, 1h, 1h30m, got {text!r}") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in pieces)
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise argparse.ArgumentTypeError(f"must be between 1 s and 7 days, got {text!r}")
    return seconds


def parse_until(text: str, now: datetime | None = None) -> float:
    """Epoch seconds from ``18:00`` / ``18:00:30`` (today, local time) or ISO 8601 with its zone.

    :raises argparse.ArgumentTypeError: anything else, or a time of day already past.
    """
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        try:
            return check_instant("until", text)
        except InvalidParameterError as exc:
            raise argparse.ArgumentTypeError(f"expected HH:MM (today, local time) or ISO 8601 with its zone: "
                                             f"{exc.reason}, got {text!r}") from None
    now = now or datetime.now().astimezone()
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    until = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if until <= now:
        raise argparse.ArgumentTypeError(f"{text} has passed today (it is {now:%H:%M:%S}); give a later time "
                                         "or a date (ISO 8601)")
    return until.timestamp()


def _positive(field: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
        return int(text)

    convert.__name__ = field
    return convert


def add_schedule_options(p: argparse.ArgumentParser) -> None:
    """The options of snapshots on a schedule (on ``chained-records``, inherited by ``snapshot``)."""
    group = p.add_argument_group("snapshots (a history: docs/history.md)")
    group.add_argument("--every", type=parse_every, metavar="DURATION",
                       help="take a snapshot every DURATION (30s, 15m, 1h, 1h30m), each a run of its own in "
                            "--out-dir (a template such as 'runs/{now:%%Y%%m%%dT%%H%%M}', or a folder: "
                            "DIR/run=<UTC time>)")
    group.add_argument("--until", type=parse_until, metavar="TIME",
                       help="with --every: no snapshot after TIME (HH:MM today, local time, or ISO 8601)")
    group.add_argument("--count", type=_positive("count"), metavar="N", help="with --every: at most N snapshots")
    group.add_argument("--keep", type=_positive("keep"), metavar="N",
                       help="after each snapshot, remove the campaign's oldest runs in the history folder "
                            "beyond the newest N")


def add_snapshot(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gwsnb snapshot``: ``chained-records`` with ``--every`` required (every option inherited, and its
    function: the parent's defaults come along)."""
    chained = sub.choices["chained-records"]
    p = sub.add_parser("snapshot", parents=[chained], add_help=False,
                       help="snapshots of a calling list on a schedule (chained-records --every)",
                       description="Take a streamed run of the handles every --every until --until (or --count "
                                   "runs, or Ctrl-C), each in its own folder of the history --out-dir; "
                                   "--keep N keeps the newest N. Every chained-records option applies to each run.")
    p.set_defaults(_parser=p, _snapshot=True)


def template_of(out_dir: str) -> str:
    """The folder template of the snapshots: ``out_dir`` when it has a field, else ``out_dir/run=...``."""
    if folder_base("out", out_dir) is not None:
        return out_dir
    return os.path.join(out_dir, DEFAULT_NAME)


def check_schedule(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The schedule's options make sense together (argparse errors, exit 2, before any password)."""
    every = getattr(args, "every", None)
    if getattr(args, "_snapshot", False) and every is None:
        parser.error("argument --every: required (how often to take a snapshot)")
    for name in ("until", "count"):
        if getattr(args, name, None) is not None and every is None:
            parser.error(f"argument --{name}: needs --every")
    if every is not None and args.out_dir is None:
        parser.error("argument --every: needs --out-dir (the history's folder or a folder template)")
    if every is not None and getattr(args, "plan", False):
        parser.error("argument --plan: not with --every (a plan is of one run: plan it without --every)")
    templated = False
    if args.out_dir is not None:
        try:
            templated = folder_base("out", args.out_dir) is not None
        except InvalidParameterError as exc:
            parser.error(f"argument --out-dir: {exc.reason}")
    if getattr(args, "keep", None) is not None and every is None and not templated:
        parser.error("argument --keep: needs --every, or a folder template in --out-dir such as "
                     "'runs/{now:%Y%m%dT%H%M}'")


def created_of(run: Any) -> datetime:
    """When a run (a :class:`gwsnb.history.RunInfo`) began (its ``created``; the epoch for a run without one)."""
    return datetime.fromisoformat(run.created) if run.created else datetime.fromtimestamp(0, timezone.utc)


def _fingerprint(handles: Sequence[int]) -> str:
    from ..runs import _fingerprint

    return _fingerprint(handles)


def _interrupted(base: str, args: argparse.Namespace, handles: Sequence[int]) -> Path | None:
    """The newest incomplete run under ``base`` of the same campaign, application id and handles."""
    from ..history import scan

    if not os.path.isdir(base):
        return None
    runs, _bad = scan(base)
    sha = _fingerprint(handles)
    mine = [r for r in runs if r.remaining and r.campaign_name == args.campaign
            and r.application_id == args.application_id and r.handles_sha256 == sha]
    return max(mine, key=created_of).path if mine else None


def prune(base: str, keep: int, campaign: str, application_id: int) -> list[Path]:
    """Remove the runs of ``campaign`` under ``base`` but the newest ``keep`` (by when they began)."""
    from ..history import scan

    runs, _bad = scan(base)
    mine = sorted((r for r in runs if r.campaign_name == campaign and r.application_id == application_id),
                  key=lambda r: (created_of(r), os.fspath(r.path)))
    removed = []
    root = Path(base).resolve()
    for run in mine[:max(0, len(mine) - keep)]:
        folder = run.path.resolve()
        if root in folder.parents:  # only ever a run inside the history's folder
            shutil.rmtree(folder)
            removed.append(run.path)
    return removed


def _folder(args: argparse.Namespace, handles: Sequence[int], template: str, *, resume: bool) -> tuple[str, bool]:
    """The folder of the next run, and whether it resumes an interrupted one."""
    base = folder_base("out", template) or template
    if resume:
        found = _interrupted(base, args, handles)
        if found is not None:
            return os.fspath(found), True
    folder = os.fspath(expand_folder("out", template, datetime.now(timezone.utc)))
    if os.path.exists(os.path.join(folder, "_run.json")):
        raise InvalidParameterError("out", template, f"names a folder that holds a run already ({folder}): "
                                                     "put a finer time in it (seconds), or space the snapshots more")
    return folder, False


RunOnce = Callable[[argparse.Namespace, Sequence[int], str], int]


def run_snapshots(args: argparse.Namespace, handles: Sequence[int], password: str, run_once: RunOnce) -> int:
    """One run (``run_once``), in the folder ``--out-dir`` names, or a run per slot with ``--every``;
    ``--keep`` applied after each.  The exit status: the worst of the runs' (130 at once on Ctrl-C)."""
    every = getattr(args, "every", None)
    if args.out_dir is None or (every is None and folder_base("out", args.out_dir) is None):
        return run_once(args, handles, password)
    template = template_of(args.out_dir) if every is not None else args.out_dir
    if every is None:
        return _one(args, handles, password, run_once, template, resume=args.resume)
    return _scheduled(args, handles, password, run_once, template, every)


def _one(args: argparse.Namespace, handles: Sequence[int], password: str, run_once: RunOnce, template: str, *,
         resume: bool) -> int:
    try:
        folder, resumed = _folder(args, handles, template, resume=resume)
    except InvalidParameterError as exc:
        print(f"gwsnb: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if resumed:
        print(f"gwsnb: resuming the interrupted snapshot {folder}", file=sys.stderr)
    status = run_once(argparse.Namespace(**{**vars(args), "out_dir": folder}), handles, password)
    keep = getattr(args, "keep", None)
    if keep is not None and status != EXIT_INTERRUPTED:
        base = folder_base("out", template) or os.path.dirname(folder) or "."
        removed = prune(base, keep, args.campaign, args.application_id)
        if removed:
            print(f"gwsnb: --keep {keep}: removed {len(removed)} older run(s): "
                  + ", ".join(os.fspath(p) for p in removed), file=sys.stderr)
    return status


def _scheduled(args: argparse.Namespace, handles: Sequence[int], password: str, run_once: RunOnce, template: str,
               every: float) -> int:
    start = time.time()
    until, count = getattr(args, "until", None), getattr(args, "count", None)
    worst, taken, k = EXIT_OK, 0, 0
    while (until is None or start + k * every <= until) and (count is None or taken < count):
        slot = start + k * every
        wait = slot - time.time()
        if wait > 0:
            time.sleep(wait)
        print(f"gwsnb: snapshot {taken + 1} (slot {datetime.fromtimestamp(slot).astimezone():%H:%M:%S})",
              file=sys.stderr)
        status = _one(args, handles, password, run_once, template, resume=True)
        taken += 1
        if status in (EXIT_INTERRUPTED, EXIT_USAGE):
            return status
        worst = max(worst, status)
        # the next slot, or the latest one missed while this snapshot ran (taken at once; the others skipped)
        k = max(k + 1, math.floor((time.time() - start) / every))
    nxt = timedelta(seconds=every)
    print(f"gwsnb: {taken} snapshot(s) taken, every {nxt}; done", file=sys.stderr)
    return worst

