"""The campaign KPIs of a run or a batch, computed by DuckDB on each record's latest reading.

One row per measure: ``group``, ``measure``, ``count`` (Int64), ``share`` (Float64, of the records; empty
where a share means nothing) and ``definition``.  docs/campaign-progress.md defines each measure in words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .duck import query

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["COLUMNS", "DEFINITIONS", "KPI_COLUMNS", "kpis", "run_time", "snapshot"]

COLUMNS = ("group", "measure", "count", "share", "definition")
#: the columns of a record the KPIs and the comparison read
KPI_COLUMNS = ("record_handle", "chain_id", "record_status", "record_status_code", "call_result",
               "call_result_code", "record_type", "record_type_code", "attempt", "dial_sched_time")
#: OCS codes (docs/ocs-codes.md) the measures are defined on
READY = 1
FINAL_STATUSES = (3, 5, 7)  # Updated, Cancelled, Chain Updated
NO_CALL = 7
SCHEDULED_TYPES = (3, 4, 5, 6)  # Campaign/Personal Rescheduled, Personal/Campaign Callback
PERSONAL_CALLBACK, CAMPAIGN_CALLBACK = 5, 6
CALLBACK_HOURS = 24

DEFINITIONS: dict[str, str] = {
    "records": "records in the run, each counted once (its latest reading, when several calls read it)",
    "chains": "distinct chain_id: the customers of the list",
    "readings": "rows of the records table: more than records when several handles of one chain were called",
    "record_status": "records whose record_status is this label, and their share of the records",
    "call_result": "records whose call_result (last call's outcome) is this label, and their share",
    "record_type": "records whose record_type is this label, and their share",
    "list penetration": "records attempted at least once (attempt >= 1) over records",
    "finished": "records done with: record_status Updated, Cancelled or Chain Updated, or record_type No Call",
    "ready now": "record_status Ready, record_type General to Campaign Callback, dial_sched_time empty or "
                 "due at the run's time: what a dialer may dial now (daily windows aside)",
    "scheduled later": "record_status Ready, a rescheduled or callback record_type, dial_sched_time after "
                       "the run's time",
    "do not call": "records of record_type No Call (on the do-not-call list, or marked so)",
    "callbacks due, personal": "Ready Personal Callback records whose dial_sched_time falls in this hour "
                               "after the run's time",
    "callbacks due, campaign": "Ready Campaign Callback records whose dial_sched_time falls in this hour "
                               "after the run's time",
    "attempts": "records with this attempt count (call attempts so far), and their share",
}


def run_time(con: duckdb.DuckDBPyConnection, prefix: str = "") -> pd.Timestamp | None:
    """The run's time: when its last call was sent (None for a run without calls)."""
    import pandas as pd

    value = con.execute(f"SELECT max(sent) FROM {prefix}calls").fetchone()
    if value is None or value[0] is None:
        return None
    stamp = pd.Timestamp(value[0])
    return stamp.tz_convert("UTC") if stamp.tzinfo is not None else stamp.tz_localize("UTC")


def latest_source(con: duckdb.DuckDBPyConnection, prefix: str = "") -> str:
    """``<prefix>records`` when no record was read twice, else ``<prefix>latest`` (its window costs)."""
    row = con.execute(f"SELECT count(*) - count(DISTINCT record_handle) FROM {prefix}records").fetchone()
    return f"{prefix}latest" if row is not None and row[0] else f"{prefix}records"


def snapshot(con: duckdb.DuckDBPyConnection, prefix: str = "") -> str:
    """Materialize each record's latest reading (only the KPI columns) as a temporary table; its name.

    The rows are copied as they are; only when some record was read more than once are they read again
    through the window of ``<prefix>latest`` (the call sent last wins).
    """
    name = f"{prefix}_snapshot"
    columns = ", ".join(KPI_COLUMNS)
    # sched_s: dial_sched_time in epoch seconds, so that comparisons do not depend on the timestamp's unit
    sched = "epoch(dial_sched_time) AS sched_s"
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns}, {sched} FROM {prefix}records")
    row = con.execute(f"SELECT count(*) - count(DISTINCT record_handle) FROM {name}").fetchone()
    if row is not None and row[0]:  # some record was read more than once: keep its latest reading
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns}, {sched} FROM {prefix}latest")
    return name


def _counts(con: duckdb.DuckDBPyConnection, table: str, column: str, total: int) -> list[dict[str, Any]]:
    frame = query(con, f"SELECT CAST(any_value({column}) AS VARCHAR) AS label, count(*) AS n FROM {table} "
                       f"GROUP BY {column}_code ORDER BY n DESC, label")
    return [_row(column, "(missing)" if label is None else str(label), int(n), total, DEFINITIONS[column])
            for label, n in zip(frame["label"], frame["n"], strict=True)]


def _row(group: str, measure: str, count: int, total: int | None, definition: str) -> dict[str, Any]:
    share = count / total if total else None
    return {"group": group, "measure": measure, "count": count, "share": share, "definition": definition}


def _progress(con: duckdb.DuckDBPyConnection, table: str, now: float, total: int) -> list[dict[str, Any]]:
    final = ", ".join(map(str, FINAL_STATUSES))
    sched = ", ".join(map(str, SCHEDULED_TYPES))
    sql = (f"SELECT count(*) FILTER (WHERE attempt >= 1), "
           f"count(*) FILTER (WHERE record_status_code IN ({final}) OR record_type_code = {NO_CALL}), "
           f"count(*) FILTER (WHERE record_status_code = {READY} AND record_type_code BETWEEN 2 AND 6 "
           f"  AND (sched_s IS NULL OR sched_s <= ?)), "
           f"count(*) FILTER (WHERE record_status_code = {READY} AND record_type_code IN ({sched}) "
           f"  AND sched_s > ?), "
           f"count(*) FILTER (WHERE record_type_code = {NO_CALL}) FROM {table}")
    row = con.execute(sql, [now, now]).fetchone()
    assert row is not None
    names = ("list penetration", "finished", "ready now", "scheduled later", "do not call")
    return [_row("progress", name, int(value), total, DEFINITIONS[name]) for name, value in zip(names, row, strict=True)]


def _callbacks(con: duckdb.DuckDBPyConnection, table: str, now: float) -> list[dict[str, Any]]:
    sql = (f"SELECT record_type_code AS t, CAST(floor((sched_s - ?) / 3600) AS BIGINT) AS h, count(*) AS n "
           f"FROM {table} WHERE record_status_code = {READY} "
           f"AND record_type_code IN ({PERSONAL_CALLBACK}, {CAMPAIGN_CALLBACK}) AND sched_s > ? "
           f"AND sched_s < ? GROUP BY 1, 2")
    found = {(int(t), int(h)): int(n)
             for t, h, n in con.execute(sql, [now, now, now + CALLBACK_HOURS * 3600]).fetchall()}
    rows = []
    for code, group in ((PERSONAL_CALLBACK, "callbacks due, personal"), (CAMPAIGN_CALLBACK, "callbacks due, campaign")):
        for hour in range(CALLBACK_HOURS):
            rows.append(_row(group, f"in {hour}-{hour + 1} h", found.get((code, hour), 0), None, DEFINITIONS[group]))
    return rows


def kpis(con: duckdb.DuckDBPyConnection, prefix: str = "", now: Any = None, field: str = "now",
         table: str | None = None) -> pd.DataFrame:
    """The KPI frame of the views under ``prefix`` at ``now`` (default: the run's time, else the clock);
    ``table``: a table or view of each record's latest reading already made (the KPI columns and
    ``sched_s``), instead of a new :func:`snapshot`.

    :raises InvalidParameterError: (``field``) ``now`` is not an instant with its zone.
    """
    import pandas as pd

    from ..params import check_instant

    if now is not None:
        when = pd.Timestamp(check_instant(field, now), unit="s", tz="UTC")
    else:
        when = run_time(con, prefix) or pd.Timestamp.now(tz="UTC")
    at = when.timestamp()
    table = table or snapshot(con, prefix)
    one = con.execute(f"SELECT count(*), count(DISTINCT chain_id) FROM {table}").fetchone()
    readings = con.execute(f"SELECT count(*) FROM {prefix}records").fetchone()
    assert one is not None and readings is not None
    total = int(one[0])
    rows = [_row("list", "records", total, None, DEFINITIONS["records"]),
            _row("list", "chains", int(one[1]), None, DEFINITIONS["chains"]),
            _row("list", "readings", int(readings[0]), None, DEFINITIONS["readings"])]
    rows += _progress(con, table, at, total)
    for column in ("record_status", "call_result", "record_type"):
        rows += _counts(con, table, column, total)
    attempts = query(con, f"SELECT attempt AS a, count(*) AS n FROM {table} GROUP BY 1 ORDER BY 1 NULLS LAST")
    rows += [_row("attempts", "(missing)" if pd.isna(a) else str(int(a)), int(n), total, DEFINITIONS["attempts"])
             for a, n in zip(attempts["a"], attempts["n"], strict=True)]
    rows += _callbacks(con, table, at)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["count"] = frame["count"].astype("Int64")
    frame["share"] = frame["share"].astype("Float64")
    for name in ("group", "measure", "definition"):
        frame[name] = frame[name].astype("string")
    frame.attrs["now"] = when
    return frame
