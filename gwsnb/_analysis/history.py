"""A history's runs as one set of DuckDB views, and the answers computed over all of them at once.

:func:`register` makes, on one connection, ``h_records`` (the KPI columns of every run's records, with
the run's position ``run``), ``h_calls`` (``run``, ``reference_id``, ``sent``), ``h_runs`` (``run`` and
``at_s``: the instant its KPIs are measured at, epoch seconds) and ``h_latest`` (each record once per run,
its latest reading: the rule of :mod:`gwsnb._analysis.duck`).  Each run's parts are read in place by one
``read_parquet`` per run under a ``UNION ALL``: DuckDB scans them all in one query, so the KPIs of 24 runs
are one pass over their files, not 24 (docs/history.md).  Runs are given as plain file lists; this
module does not know the Run class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .duck import _file_list
from .kpis import (
    CALLBACK_HOURS,
    CAMPAIGN_CALLBACK,
    DEFINITIONS,
    FINAL_STATUSES,
    NO_CALL,
    PERSONAL_CALLBACK,
    READY,
    SCHEDULED_TYPES,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["RunFiles", "changes", "journey", "kpis", "register", "transitions"]

_COLUMNS = ("record_handle", "chain_id", "record_status", "record_status_code", "call_result", "call_result_code",
            "record_type", "record_type_code", "attempt", "dial_sched_time", "reference_id")
#: the fields whose change a journey and the changes report, compared on the code where there is one
FIELDS = ("record_status", "record_type", "call_result", "attempt", "dial_sched_time")
_CODED = ("record_status", "call_result", "record_type")
_COUNTED = ("record_status", "call_result", "record_type")
_TYPES = {"record_status": "VARCHAR", "call_result": "VARCHAR", "record_type": "VARCHAR", "reference_id": "VARCHAR",
          "dial_sched_time": "TIMESTAMPTZ"}


@dataclass
class RunFiles:
    """One run of a history: its position, its committed parts, and the instant its KPIs are measured at."""

    run: int
    records: Sequence[str] = field(default_factory=list)
    calls: Sequence[str] = field(default_factory=list)
    at: float = 0.0


def _union(parts: list[str], empty: str) -> str:
    return " UNION ALL ".join(parts) if parts else empty


def register(con: duckdb.DuckDBPyConnection, runs: Sequence[RunFiles], repeated: Sequence[int] = ()) -> None:
    """The views ``h_records``, ``h_calls``, ``h_latest`` and the table ``h_runs`` over ``runs``.
    ``repeated``: the runs in which some record was read more than once (:func:`repeated_runs`); only
    those pay for the window that keeps each record's latest reading."""
    columns = ", ".join(_COLUMNS)
    records = [f"SELECT {r.run} AS run, {columns} FROM read_parquet({_file_list(r.records)})" for r in runs if r.records]
    typed = ", ".join(f"CAST(NULL AS {_TYPES.get(c, 'BIGINT')}) AS {c}" for c in _COLUMNS)
    empty = f"SELECT * FROM (SELECT 0 AS run, {typed}) WHERE false"  # no run has a record: typed, so queries bind
    con.execute(f"CREATE OR REPLACE VIEW h_records AS {_union(records, empty)}")
    calls = [f"SELECT {r.run} AS run, reference_id, sent, status, records FROM read_parquet({_file_list(r.calls)})"
             for r in runs if r.calls]
    con.execute("CREATE OR REPLACE VIEW h_calls AS " + _union(
        calls, "SELECT * FROM (SELECT 0 AS run, CAST(NULL AS VARCHAR) AS reference_id, "
               "CAST(NULL AS TIMESTAMPTZ) AS sent, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS records) "
               "WHERE false"))
    con.execute("CREATE OR REPLACE TABLE h_runs (run INTEGER, at_s DOUBLE)")
    con.executemany("INSERT INTO h_runs VALUES (?, ?)", [[r.run, r.at] for r in runs])
    once = ",".join(str(r) for r in repeated) or "-1"
    plain = f"SELECT * EXCLUDE (reference_id) FROM h_records WHERE run NOT IN ({once})"
    windowed = [
        f"SELECT {r.run} AS run, {columns}, filename AS _file, file_row_number AS _row "
        f"FROM read_parquet({_file_list(r.records)}, filename=true, file_row_number=true)"
        for r in runs if r.run in set(repeated) and r.records]
    if windowed:
        latest = (f"SELECT s.* EXCLUDE (_file, _row, reference_id, _sent) FROM ("
                  f"SELECT s.*, c.sent AS _sent FROM ({' UNION ALL '.join(windowed)}) s "
                  f"LEFT JOIN h_calls c ON s.run = c.run AND s.reference_id = c.reference_id) s "
                  f"QUALIFY row_number() OVER (PARTITION BY s.run, s.record_handle "
                  f"ORDER BY s._sent DESC NULLS LAST, s._file DESC, s._row DESC) = 1")
        plain = f"{plain} UNION ALL {latest}"
    con.execute(f"CREATE OR REPLACE VIEW h_latest AS {plain}")


def run_times(con: duckdb.DuckDBPyConnection) -> dict[int, Any]:
    """Each run's last call sent (a UTC Timestamp), for the runs with calls."""
    import pandas as pd

    out = {}
    for run, sent in con.execute("SELECT run, max(sent) FROM h_calls GROUP BY run").fetchall():
        if sent is not None:
            stamp = pd.Timestamp(sent)
            out[int(run)] = stamp.tz_convert("UTC") if stamp.tzinfo is not None else stamp.tz_localize("UTC")
    return out


# --------------------------------------------------------------------------- KPIs
def counts(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[int, int, bool]]:
    """Each run's readings (rows), chains (distinct chain_id: a record read twice keeps its chain, so they
    are those of the latest readings too), and whether some record may have been read more than once.

    A record is read twice only when its chain is, by two calls: so a run whose calls that brought records
    are as many as its chains read each record once.  Counting the calls costs nothing; the distinct
    handles of a 1,000,000-record run would cost a hash table of them.  When the two differ (or a run
    lacks the calls' ``records``), the run takes the window that keeps each record's latest reading."""
    rows = con.execute("SELECT run, count(*), count(DISTINCT chain_id) FROM h_records GROUP BY run").fetchall()
    calls = dict(con.execute("SELECT run, count(*) FILTER (WHERE CAST(status AS VARCHAR) = 'ok' AND records > 0) "
                             "FROM h_calls GROUP BY run").fetchall())
    return {int(r): (int(n), int(c), int(c) != int(calls.get(r, -1))) for r, n, c in rows}


def _fine(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One pass over every run's latest readings: the records per run and combination of the codes and
    the attempt (a few thousand rows at most), with those ready now and scheduled later at the run's time.
    The KPIs are sums over it; one small hash aggregate costs less than a pass per measure."""
    sched = ", ".join(map(str, SCHEDULED_TYPES))
    # the hour a callback falls due in (the next 24 hours), else NULL: one more key of few values, so that
    # the callbacks come out of the same pass
    due = (f"CASE WHEN record_status_code = {READY} AND record_type_code IN ({PERSONAL_CALLBACK}, {CAMPAIGN_CALLBACK}) "
           f"AND epoch(dial_sched_time) > r.at_s AND epoch(dial_sched_time) < r.at_s + {CALLBACK_HOURS * 3600} "
           "THEN CAST(floor((epoch(dial_sched_time) - r.at_s) / 3600) AS BIGINT) END")
    return con.execute(
        f"SELECT l.run, record_status_code AS s, call_result_code AS c, record_type_code AS t, attempt AS a, {due} AS h, "
        "CAST(any_value(record_status) AS VARCHAR) AS s_label, CAST(any_value(call_result) AS VARCHAR) AS c_label, "
        "CAST(any_value(record_type) AS VARCHAR) AS t_label, count(*) AS n, "
        f"count(*) FILTER (WHERE record_status_code = {READY} AND record_type_code BETWEEN 2 AND 6 "
        "  AND (dial_sched_time IS NULL OR epoch(dial_sched_time) <= r.at_s)) AS ready, "
        f"count(*) FILTER (WHERE record_status_code = {READY} AND record_type_code IN ({sched}) "
        "  AND epoch(dial_sched_time) > r.at_s) AS later "
        "FROM h_latest l JOIN h_runs r ON l.run = r.run GROUP BY 1, 2, 3, 4, 5, 6").df()


def _callbacks(fine: pd.DataFrame) -> dict[tuple[int, int, int], int]:
    due = fine[fine["h"].notna()]
    return {(int(run), int(t), int(h)): int(n) for (run, t, h), n in due.groupby(["run", "t", "h"])["n"].sum().items()}


def _row(run: int, group: str, measure: str, count: int, total: int | None, definition: str) -> tuple[Any, ...]:
    return (run, group, measure, count, count / total if total else None, definition)


def _na(value: Any) -> bool:
    return value is None or value != value or str(value) == "<NA>"


def _label_rows(run: int, column: str, mine: pd.DataFrame, total: int) -> list[tuple[Any, ...]]:
    """The rows of one coded column, in the order of kpis._counts: most records first, then the label (a
    missing label last); a code's label is any of its rows' (they agree)."""
    key = {"record_status": "s", "call_result": "c", "record_type": "t"}[column]
    label = f"{key}_label"
    found: list[tuple[str | None, int]] = []
    for _code, group in mine.groupby(key, dropna=False, sort=False):
        labels = [v for v in group[label] if not _na(v)]
        found.append((labels[0] if labels else None, int(group["n"].sum())))
    found.sort(key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [_row(run, column, "(missing)" if name is None else name, n, total, DEFINITIONS[column])
            for name, n in found]


def _progress(run: int, mine: pd.DataFrame, total: int) -> list[tuple[Any, ...]]:
    final = mine["s"].isin(FINAL_STATUSES) | (mine["t"] == NO_CALL)
    values = {"list penetration": mine.loc[mine["a"].fillna(0) >= 1, "n"].sum(),
              "finished": mine.loc[final.fillna(False).astype(bool), "n"].sum(),
              "ready now": mine["ready"].sum(), "scheduled later": mine["later"].sum(),
              "do not call": mine.loc[(mine["t"] == NO_CALL).fillna(False).astype(bool), "n"].sum()}
    return [_row(run, "progress", name, int(v), total, DEFINITIONS[name]) for name, v in values.items()]


def _run_rows(run: int, fine: pd.DataFrame, counted: tuple[int, int, bool],
              callbacks: dict[tuple[int, int, int], int]) -> list[tuple[Any, ...]]:
    """The KPI rows of one run, in the order of :func:`gwsnb._analysis.kpis.kpis`."""
    mine = fine[fine["run"] == run]
    readings, chains, _repeated = counted
    total = int(mine["n"].sum())
    rows = [_row(run, "list", "records", total, None, DEFINITIONS["records"]),
            _row(run, "list", "chains", chains, None, DEFINITIONS["chains"]),
            _row(run, "list", "readings", readings, None, DEFINITIONS["readings"])]
    rows += _progress(run, mine, total)
    for column in _COUNTED:
        rows += _label_rows(run, column, mine, total)
    attempts = mine.groupby("a", dropna=False, sort=True)["n"].sum()
    order = sorted(attempts.index, key=lambda a: (_na(a), 0 if _na(a) else a))
    rows += [_row(run, "attempts", "(missing)" if _na(a) else str(int(a)), int(attempts[a]), total,
                  DEFINITIONS["attempts"]) for a in order]
    for code, group in ((PERSONAL_CALLBACK, "callbacks due, personal"), (CAMPAIGN_CALLBACK, "callbacks due, campaign")):
        rows += [_row(run, group, f"in {h}-{h + 1} h", callbacks.get((run, code, h), 0), None, DEFINITIONS[group])
                 for h in range(CALLBACK_HOURS)]
    return rows


def kpis(con: duckdb.DuckDBPyConnection, runs: Sequence[int], counted: dict[int, tuple[int, int, bool]]) -> pd.DataFrame:
    """The KPIs of every run (the rows of :func:`gwsnb._analysis.kpis.kpis`, each with its ``run``),
    computed over all the runs' parts at once; ``counted``: :func:`counts`."""
    import pandas as pd

    fine = _fine(con)
    callbacks = _callbacks(fine)
    rows: list[tuple[Any, ...]] = []
    for run in runs:
        rows += _run_rows(run, fine, counted.get(run, (0, 0, False)), callbacks)
    frame = pd.DataFrame(rows, columns=["run", "group", "measure", "count", "share", "definition"])
    frame["run"] = frame["run"].astype("int64")
    frame["count"] = frame["count"].astype("Int64")
    frame["share"] = frame["share"].astype("Float64")
    for name in ("group", "measure", "definition"):
        frame[name] = frame[name].astype("string")
    return frame


# --------------------------------------------------------------------------- records across runs
def _key(name: str) -> str:
    return f"{name}_code" if name in _CODED else name


def journey(con: duckdb.DuckDBPyConnection, column: str, value: int) -> pd.DataFrame:
    """Every reading of the records whose ``column`` (record_handle or chain_id) is ``value``, one per run
    in which each appears, ordered by record and run."""
    shown = ", ".join(c for c in _COLUMNS if c != "reference_id")
    return con.execute(f"SELECT run, {shown} FROM h_latest WHERE {column} = ? ORDER BY record_handle, run",
                       [value]).df()


def _pairs(con: duckdb.DuckDBPyConnection, last: int) -> None:
    """``h_pairs``: each record of two consecutive runs (``run_before`` = ``run_after`` - 1) side by side;
    a record in one of them only has the other side empty."""
    sides = ", ".join(f"b.{c} AS b_{c}, a.{c} AS a_{c}" for c in _COLUMNS if c != "reference_id")
    con.execute(
        f"CREATE OR REPLACE TABLE h_pairs AS SELECT coalesce(b.run, a.run - 1) AS run_before, "
        f"coalesce(a.run, b.run + 1) AS run_after, {sides} FROM h_latest b FULL OUTER JOIN h_latest a "
        f"ON a.record_handle = b.record_handle AND a.run = b.run + 1 "
        f"WHERE coalesce(b.run, a.run - 1) >= 0 AND coalesce(a.run, b.run + 1) <= {last}")


def _text(side: str, name: str) -> str:
    if name == "dial_sched_time":
        return f"strftime(timezone('UTC', {side}_{name}), '%Y-%m-%dT%H:%M:%SZ')"
    return f"CAST({side}_{name} AS VARCHAR)"


def changes(con: duckdb.DuckDBPyConnection, last: int) -> pd.DataFrame:
    """The long table of changes between consecutive runs: one row per record and changed field
    (``field`` ``(record)`` for a record added or no longer seen)."""
    _pairs(con, last)
    handle = "coalesce(a_record_handle, b_record_handle) AS record_handle, coalesce(a_chain_id, b_chain_id) AS chain_id"
    selects = [
        f"SELECT run_before, run_after, {handle}, '{name}' AS field, {_text('b', name)} AS before, "
        f"{_text('a', name)} AS after FROM h_pairs WHERE b_record_handle IS NOT NULL AND a_record_handle IS NOT NULL "
        f"AND b_{_key(name)} IS DISTINCT FROM a_{_key(name)}" for name in FIELDS]
    selects.append(f"SELECT run_before, run_after, {handle}, '(record)' AS field, "
                   f"CASE WHEN b_record_handle IS NULL THEN 'absent' ELSE 'present' END AS before, "
                   f"CASE WHEN a_record_handle IS NULL THEN 'absent' ELSE 'present' END AS after "
                   f"FROM h_pairs WHERE b_record_handle IS NULL OR a_record_handle IS NULL")
    order = "CASE field " + " ".join(f"WHEN '{n}' THEN {i}" for i, n in enumerate(("(record)", *FIELDS))) + " END"
    return con.execute(f"SELECT * FROM ({' UNION ALL '.join(selects)}) ORDER BY run_before, record_handle, {order}").df()


def transitions(con: duckdb.DuckDBPyConnection, last: int, name: str) -> pd.DataFrame:
    """``name``'s moves (label before → label after, the unchanged left out) per pair of consecutive runs,
    over the records of both: the counts of :meth:`gwsnb.progress.Comparison.transition_counts`."""
    _pairs(con, last)
    return con.execute(
        f"SELECT run_before, run_after, coalesce(CAST(b_{name} AS VARCHAR), '(missing)') AS before, "
        f"coalesce(CAST(a_{name} AS VARCHAR), '(missing)') AS after, count(*) AS records FROM h_pairs "
        f"WHERE b_record_handle IS NOT NULL AND a_record_handle IS NOT NULL GROUP BY ALL "
        f"HAVING before <> after ORDER BY run_before, records DESC, before, after").df()
