"""A campaign's history: the runs of one campaign in a folder, read together (:func:`open_history`).

Snapshots of a calling list taken over a day (``gwsnb snapshot``, or ``out="runs/{now:%Y%m%dT%H%M}"``)
are runs side by side in one folder.  :func:`open_history` finds them (at any depth), keeps those of one
campaign and application id in time order, and lists the others with the reason they were left out (a
run of another campaign, an incomplete one, a folder that is not a readable run).  The
:class:`History` answers over all its runs at once, with DuckDB on their Parquet parts in place:

- :meth:`History.kpis`: each run's KPIs (those of :meth:`gwsnb.runs.Run.kpis`), one row per run and
  measure, with the run's time; :meth:`History.plot` draws chosen measures over time;
- :meth:`History.compare`: :func:`gwsnb.compare_runs` of two of its runs;
- :meth:`History.journey`: one record (or one chain) across the runs, what changed at each step;
- :meth:`History.changes` and :meth:`History.transitions`: the same for every record, and the transition
  counts per pair of consecutive runs.

A run's **time** is the instant its KPIs are measured at: when its last call was sent (as
``run.kpis()``); its **snapshot time** is when it began (the ``snapshot_time`` column of its parts).
See docs/history.md.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterError
from .runs import RUN_FILE, Run, open_run

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from matplotlib.figure import Figure

    from .progress import Comparison

__all__ = ["PLOTTED", "History", "LeftOut", "RunInfo", "open_history", "scan"]

#: the measures :meth:`History.plot` draws by default (``callbacks due``: both kinds, the next 24 hours)
PLOTTED = ("list penetration", "finished", "ready now", "scheduled later", "do not call", "callbacks due")
_CALLBACKS = "callbacks due"


@dataclass(frozen=True)
class LeftOut:
    """A folder of the history's folder not in the history, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{os.fspath(self.path)}: {self.reason}"


@dataclass(frozen=True)
class RunInfo:
    """What a history keeps of a run: a few numbers, not its handle list (a 1,000,000-handle run's lists
    of handles and finished ranges take over 100 MiB as Python objects; :func:`gwsnb.open_run` loads them)."""

    path: Path
    campaign_name: str
    application_id: int
    created: str | None
    handles_sha256: str | None
    total: int
    done: int
    failed: int
    remaining: int
    parts: tuple[str, ...]

    @classmethod
    def of(cls, run: Run) -> RunInfo:
        return cls(run.path, run.campaign_name, run.application_id, run.meta.get("created"),
                   run.meta.get("handles_sha256"), run.total, run.done, run.failed, run.remaining,
                   tuple(run.state["parts"]))


def scan(path: str | os.PathLike[str]) -> tuple[list[RunInfo], list[LeftOut]]:
    """Every run under ``path`` (a folder holding ``_run.json``, at any depth; not looked into further),
    and the folders that hold an unreadable one.  Each run is read and let go one at a time.

    :raises InvalidParameterError: (field ``path``) not a folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidParameterError("path", os.fspath(path), "is not a folder")
    runs: list[RunInfo] = []
    bad: list[LeftOut] = []
    for folder, dirs, files in os.walk(root):
        if RUN_FILE not in files:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            continue
        dirs[:] = []  # a run's own folders hold its parts, not other runs
        try:
            runs.append(RunInfo.of(Run(folder)))
        except InvalidParameterError as exc:
            bad.append(LeftOut(Path(folder), exc.reason))
    return runs, bad


def _name(run: RunInfo) -> str:
    return f"campaign {run.campaign_name!r} (application id {run.application_id})"


def _created(run: RunInfo) -> Any:
    import pandas as pd

    return pd.Timestamp(run.created).tz_convert("UTC") if run.created else pd.NaT


def open_history(path: str | os.PathLike[str], *, campaign_name: str | None = None,
                 application_id: int | None = None) -> History:
    """The history in the folder ``path``: its runs of one campaign and application id, in time order.

    The campaign is ``campaign_name`` / ``application_id`` when given, else the one with the most runs
    (the latest run's on a tie).  Left out, and listed in :attr:`History.left_out` with the reason: runs
    of other campaigns or application ids, incomplete runs (interrupted or still being written: resume
    them), folders that are not readable runs.

    :raises InvalidParameterError: (field ``path``) not a folder, or no complete run of the campaign in it
        (the message lists what was left out); (``application_id``) not an integer.
    :raises ImportError: pyarrow or DuckDB is missing (``pip install 'gwsnb[parquet]'``).
    """
    from .params import MAX_HANDLE, check_int

    if application_id is not None:
        application_id = check_int("application_id", application_id, 1, MAX_HANDLE)
    runs, left_out = scan(path)
    complete = []
    for run in runs:
        if run.remaining:
            left_out.append(LeftOut(run.path, f"incomplete: {run.remaining} of {run.total} handle(s) not finished "
                                              "(interrupted or still running; resume it with the same handles)"))
        else:
            complete.append(run)
    keys = [(r.campaign_name, r.application_id) for r in sorted(complete, key=_created)]
    chosen = [k for k in keys if (campaign_name is None or k[0] == campaign_name)
              and (application_id is None or k[1] == application_id)]
    if not chosen:
        wanted = "complete run" if campaign_name is None and application_id is None else (
            f"complete run of campaign {campaign_name!r}" + (f" (application id {application_id})"
                                                              if application_id is not None else ""))
        listed = "; ".join(str(x) for x in left_out) or "nothing"
        raise InvalidParameterError("path", os.fspath(path), f"holds no {wanted}; left out: {listed}")
    key = max(dict.fromkeys(chosen), key=lambda k: (chosen.count(k), max(i for i, c in enumerate(chosen) if c == k)))
    for run in complete:
        if (run.campaign_name, run.application_id) != key:
            left_out.append(LeftOut(run.path, f"a run of {_name(run)}, not of campaign {key[0]!r} "
                                              f"(application id {key[1]})"))
    mine = [r for r in complete if (r.campaign_name, r.application_id) == key]
    return History(Path(path), mine, sorted(left_out, key=lambda x: os.fspath(x.path)))


class History:
    """The runs of one campaign in a folder, in time order (made by :func:`open_history`).

    ``history[i]`` (the :class:`~gwsnb.runs.Run` at position ``i``, opened then), ``len(history)``,
    ``runs`` (all of them opened: each loads its handle list), ``infos`` (:class:`RunInfo`), ``times`` (each run's
    time: its last call sent, UTC), ``left_out`` (:class:`LeftOut`: what the folder held besides),
    ``campaign_name`` and ``application_id``.  The answers are computed by DuckDB over every run's parts
    at once; each method opens and closes its own connection.
    """

    def __init__(self, path: Path, runs: Sequence[RunInfo], left_out: Sequence[LeftOut]) -> None:
        self.path = path
        self.left_out = list(left_out)
        runs = list(runs)
        con = self._connect(runs, times={})
        try:
            from ._analysis import history as h

            found = h.run_times(con)
        finally:
            con.close()
        times = [found.get(i, _created(run)) for i, run in enumerate(runs)]
        order = sorted(range(len(runs)), key=lambda i: (times[i], _created(runs[i]), os.fspath(runs[i].path)))
        self.infos: list[RunInfo] = [runs[i] for i in order]
        self.times: list[pd.Timestamp] = [times[i] for i in order]
        self._counted: dict[int, tuple[int, int, bool]] | None = None
        self.campaign_name = self.infos[0].campaign_name
        self.application_id = self.infos[0].application_id

    # --- DuckDB ---------------------------------------------------------------------------------
    @staticmethod
    def _files(run: RunInfo, table: str) -> list[str]:
        from .runs import _part_files

        return [os.fspath(f) for f in _part_files(run.path, table, run.parts)]

    def _connect(self, runs: Sequence[RunInfo], times: dict[int, Any], repeated: Sequence[int] = ()) -> duckdb.DuckDBPyConnection:
        from ._analysis import duck
        from ._analysis import history as h

        con = duck.connect()
        files = [h.RunFiles(i, self._files(r, "records"), self._files(r, "calls"),
                            times[i].timestamp() if i in times else 0.0) for i, r in enumerate(runs)]
        h.register(con, files, repeated)
        return con

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the history's views: ``h_records`` (every run's records with their
        ``run``, the position in :attr:`runs`), ``h_latest`` (each record once per run), ``h_calls`` and
        ``h_runs`` (``run``, ``at_s``: the run's time in epoch seconds).  Close it when done.

        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        """
        counted = self._counts()
        repeated = [run for run, (_readings, _chains, twice) in counted.items() if twice]
        return self._connect(self.infos, dict(enumerate(self.times)), repeated)

    def _counts(self) -> dict[int, tuple[int, int, bool]]:
        """Each run's readings, chains, and whether a record may have been read twice (counted once, on
        first need: a pass over all records)."""
        if self._counted is None:
            from ._analysis import history as h

            con = self._connect(self.infos, {})
            try:
                self._counted = h.counts(con)
            finally:
                con.close()
        return self._counted

    def sql(self, query: str) -> pd.DataFrame:
        """The answer of a DuckDB ``query`` over the views of :meth:`duckdb`, as a DataFrame::

            history.sql("select run, count(*) filter (where attempt >= 1) from h_latest group by 1 order by 1")

        :raises duckdb.Error: the query is not valid.
        """
        con = self.duckdb()
        try:
            return con.execute(query).df()
        finally:
            con.close()

    # --- runs -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, index: int) -> Run:
        return open_run(self.infos[index].path)

    def __iter__(self) -> Iterator[Run]:
        return (open_run(info.path) for info in self.infos)

    @property
    def runs(self) -> list[Run]:
        """Every run, opened (each loads its handle list: ``history[i]`` opens one)."""
        return list(self)

    def _index(self, field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not -len(self) <= value < len(self):
            raise InvalidParameterError(field, value, f"expected a run's position, 0 to {len(self) - 1} "
                                                      f"(or -1 for the last)")
        return value % len(self)

    def runs_frame(self) -> pd.DataFrame:
        """One row per run: ``run`` (its position), ``time``, ``snapshot_time`` (when it began), ``name``
        (its folder, relative to the history's), ``handles``, ``done``, ``failed``, ``parts``."""
        import pandas as pd

        return pd.DataFrame({
            "run": range(len(self)), "time": pd.to_datetime(self.times, utc=True),
            "snapshot_time": pd.to_datetime([_created(r) for r in self.infos], utc=True),
            "name": [self._relative(r) for r in self.infos], "handles": [r.total for r in self.infos],
            "done": [r.done for r in self.infos], "failed": [r.failed for r in self.infos],
            "parts": [len(r.parts) for r in self.infos]})

    def _relative(self, run: RunInfo) -> str:
        try:
            return run.path.relative_to(self.path).as_posix()
        except ValueError:
            return os.fspath(run.path)

    def _with_runs(self, frame: pd.DataFrame, column: str = "run", prefix: str = "") -> pd.DataFrame:
        """``frame`` with the time and name of the run in ``column`` beside it."""
        import pandas as pd

        times = pd.Series(pd.to_datetime(self.times, utc=True), index=range(len(self)))
        names = pd.Series([self._relative(r) for r in self.infos], index=range(len(self)), dtype="string")
        at = frame.columns.get_loc(column) + 1
        frame.insert(at, f"{prefix}time", frame[column].map(times).to_numpy())
        frame.insert(at + 1, f"{prefix}name", frame[column].map(names).astype("string").to_numpy())
        return frame

    # --- KPIs -------------------------------------------------------------------------------------
    def kpis(self) -> pd.DataFrame:
        """The KPIs of every run, one row per run and measure: ``run``, ``time`` (the run's time, UTC),
        ``name`` (its folder), ``group``, ``measure``, ``count``, ``share``, ``definition``; each run's
        rows are those of its own :meth:`~gwsnb.runs.Run.kpis`, measured at its time.  One DuckDB pass
        over all the runs' parts (docs/history.md).

        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        """
        from ._analysis import history as h

        con = self.duckdb()
        try:
            frame = h.kpis(con, range(len(self)), self._counts())
        finally:
            con.close()
        return self._with_runs(frame)

    def plot(self, measures: Sequence[str] = PLOTTED, *, share: bool = False, fig: Figure | None = None) -> Figure:
        """``measures`` (progress measures of :meth:`kpis`, or ``"callbacks due"``: both kinds over the
        next 24 hours) over time, the runs as points: counts, or with ``share=True`` shares of the
        records.  Returns the matplotlib Figure.

        :raises InvalidParameterError: (field ``measures``) a measure the KPIs do not have.
        """
        table = self._series(measures, share)
        if fig is None:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(8, 4))
        ax = fig.subplots()
        for measure in table.columns:
            ax.plot(table.index, table[measure], marker="o", label=measure)
        ax.set_xlabel("run's time (UTC)")
        ax.set_ylabel("share of the records" if share else "records")
        if share:
            from matplotlib.ticker import PercentFormatter

            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(f"campaign {self.campaign_name}: {len(self)} run(s)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        return fig

    def _series(self, measures: Sequence[str], share: bool) -> pd.DataFrame:
        """The plotted values: one column per measure, one row per run's time."""
        import pandas as pd

        if isinstance(measures, str):
            measures = [measures]
        kpis = self.kpis()
        progress = kpis[kpis["group"] == "progress"]
        known = set(progress["measure"]) | {_CALLBACKS}
        for measure in measures:
            if measure not in known:
                raise InvalidParameterError("measures", measure, f"expected one of {', '.join(sorted(known))}")
        columns = {}
        for measure in measures:
            if measure == _CALLBACKS:
                due = kpis[kpis["group"].str.startswith("callbacks due")].groupby("run")["count"].sum()
                records = kpis[kpis["measure"] == "records"].set_index("run")["count"]
                values = (due / records.where(records > 0)) if share else due
            else:
                values = progress[progress["measure"] == measure].set_index("run")["share" if share else "count"]
            columns[measure] = values.astype("Float64").to_numpy()
        return pd.DataFrame(columns, index=pd.to_datetime(self.times, utc=True))

    def compare(self, i: int, j: int) -> Comparison:
        """:func:`gwsnb.compare_runs` of the runs at positions ``i`` and ``j`` (``-1`` the last).

        :raises InvalidParameterError: (field ``i``/``j``) not a position in the history.
        """
        from .progress import compare_runs

        return compare_runs(self[self._index("i", i)], self[self._index("j", j)])

    # --- records ------------------------------------------------------------------------------------
    def journey(self, record_handle: Any = None, *, chain_id: Any = None) -> pd.DataFrame:
        """One record across the runs (or, with ``chain_id=``, each record of one chain): one row per run
        in which it appears, ordered by record and run: ``record_handle``, ``run``, ``time``, ``name``,
        ``chain_id``, ``record_status``, ``record_type``, ``call_result``, ``attempt``,
        ``dial_sched_time``, and ``changed``: the fields that changed since the run before in which it
        appeared (``(first seen)`` on its first row; ``(not in run k, ...)`` when it was missing from runs
        in between).  Empty when no run holds it.

        :raises InvalidParameterError: neither or both of ``record_handle`` and ``chain_id``, or not a
            handle (field named).
        """
        from ._analysis import history as h
        from .params import MAX_HANDLE, check_int

        if (record_handle is None) == (chain_id is None):
            raise InvalidParameterError("record_handle", record_handle, "give a record handle or chain_id=, not both")
        column, value = ("record_handle", record_handle) if chain_id is None else ("chain_id", chain_id)
        value = check_int(column, value, 0 if column == "chain_id" else 1, MAX_HANDLE, digits=True)
        con = self.duckdb()
        try:
            frame = h.journey(con, column, value)
        finally:
            con.close()
        frame = frame[["record_handle", "run", *[c for c in frame.columns if c not in ("record_handle", "run")]]]
        frame = self._with_runs(frame.reset_index(drop=True))
        frame["changed"] = self._changed(frame)
        keep = ["record_handle", "run", "time", "name", "chain_id", "record_status", "record_type", "call_result",
                "attempt", "dial_sched_time", "changed"]
        from .progress import _typed

        return _typed(frame[keep].copy())

    @staticmethod
    def _changed(frame: pd.DataFrame) -> list[str]:
        from ._analysis.history import FIELDS, _key

        out: list[str] = []
        previous: Any = None
        for _i, row in frame.iterrows():
            if previous is None or previous["record_handle"] != row["record_handle"]:
                out.append("(first seen)")
            else:
                changed = [f for f in FIELDS if not _same(previous[_key(f)], row[_key(f)])]
                missing = list(range(int(previous["run"]) + 1, int(row["run"])))
                gap = [f"(not in run {', '.join(map(str, missing))})"] if missing else []
                out.append(", ".join(gap + changed))
            previous = row
        return out

    def changes(self) -> pd.DataFrame:
        """Every change between consecutive runs, as a long table: one row per record and changed field:
        ``run_before``, ``run_after`` (positions), ``time_before``, ``time_after``, ``record_handle``,
        ``chain_id``, ``field`` (record_status, record_type, call_result and record_type compare on their
        codes; attempt; dial_sched_time; or ``(record)`` for a record ``absent`` from one of the two),
        ``before``, ``after`` (as text: labels, numbers, ISO 8601 UTC instants).  Computed by DuckDB.
        """
        from ._analysis import history as h

        con = self.duckdb()
        try:
            frame = h.changes(con, len(self) - 1)
        finally:
            con.close()
        return self._timed_pairs(frame)

    def transitions(self, field: str = "record_status") -> pd.DataFrame:
        """The moves of ``field`` (record_status or call_result) per pair of consecutive runs: ``run_before``,
        ``run_after``, their times, ``before``, ``after`` (labels; unchanged values left out), ``records``;
        for each pair, the counts of ``compare(i, i + 1).transition_counts(field)``.

        :raises InvalidParameterError: ``field`` is neither record_status nor call_result.
        """
        from ._analysis import history as h

        if field not in ("record_status", "call_result"):
            raise InvalidParameterError("field", field, "expected 'record_status' or 'call_result'")
        con = self.duckdb()
        try:
            frame = h.transitions(con, len(self) - 1, field)
        finally:
            con.close()
        frame["records"] = frame["records"].astype("int64")
        return self._timed_pairs(frame)

    def _timed_pairs(self, frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        times = pd.Series(pd.to_datetime(self.times, utc=True), index=range(len(self)))
        frame.insert(2, "time_before", frame["run_before"].map(times).to_numpy())
        frame.insert(3, "time_after", frame["run_after"].map(times).to_numpy())
        for name in frame.columns:
            if frame[name].dtype == object:
                frame[name] = frame[name].astype("string")
        for name in ("run_before", "run_after"):
            frame[name] = frame[name].astype("int64")
        return frame

    # --- display ------------------------------------------------------------------------------------
    def summary(self) -> str:
        span = f"{self.times[0]:%Y-%m-%d %H:%M:%S} to {self.times[-1]:%Y-%m-%d %H:%M:%S} UTC"
        left = f"; {len(self.left_out)} folder(s) left out" if self.left_out else ""
        return f"{len(self)} run(s) of campaign {self.campaign_name!r} (application id {self.application_id}), {span}{left}"

    def __repr__(self) -> str:
        return f"<History {os.fspath(self.path)!r} runs={len(self)} campaign={self.campaign_name!r} left_out={len(self.left_out)}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(f"<tr><td>{i}</td><td>{t:%Y-%m-%d %H:%M:%S}</td><td><code>{esc(self._relative(r))}</code></td>"
                       f"<td>{r.total}</td><td>{r.failed}</td></tr>" for i, (t, r) in enumerate(zip(self.times, self.infos, strict=True)))
        left = "".join(f"<li><code>{esc(os.fspath(x.path))}</code>: {esc(x.reason)}</li>" for x in self.left_out)
        left = f"<p>left out:</p><ul>{left}</ul>" if left else ""
        return (f"<div class='gwsnb-history'><p><b>History</b> <code>{esc(os.fspath(self.path))}</code> · "
                f"{esc(self.summary())}</p><table><thead><tr><th>run</th><th>time (UTC)</th><th>folder</th>"
                f"<th>handles</th><th>failed</th></tr></thead><tbody>{rows}</tbody></table>{left}</div>")


def _same(a: Any, b: Any) -> bool:
    import pandas as pd

    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return bool(a == b)
