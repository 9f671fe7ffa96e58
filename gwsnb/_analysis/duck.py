"""DuckDB views over a run's Parquet parts (or over in-memory frames), and each record's latest reading.

A run's tables become the views ``records``, ``metrics`` and ``calls`` (a ``prefix`` lets two runs share
one connection: ``before_records``, ``after_records``).  Only the committed parts listed in the run's
state are read, so a part an interrupted commit left behind is never seen.  DuckDB reads the files in
place: nothing is loaded into pandas until a query's answer is.

``<prefix>latest`` holds each record once, its latest reading (docs/campaign-progress.md, "Each record
once"): a run in which several handles of one chain were called holds that chain's records once per call;
the reading kept is the one of the call sent last (the calls table's ``sent``), ties broken by the order
the rows were written (part, then row).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["EXTRA", "connect", "copy_to_parquet", "query", "register_frames", "register_parts", "require_duckdb"]

#: the extra that brings DuckDB (and pyarrow)
EXTRA = "parquet"
TABLES = ("records", "metrics", "calls")
#: DuckDB's own memory ceiling; past it, tables, joins and windows spill to a temporary folder instead of
#: growing (DuckDB keeps some allocations outside it).  192 MB keeps compare_runs of two 4,000,000-record
#: runs under 500 MiB of peak RSS (benchmarks/bench_progress.py; docs/campaign-progress.md#performance)
MEMORY_LIMIT = "192MB"


def require_duckdb() -> Any:
    """The duckdb module.  :raises ImportError: naming the extra to install when DuckDB is missing."""
    try:
        import duckdb
    except ImportError as exc:
        raise ImportError(f"SQL over a run, KPIs and compare_runs need DuckDB: pip install 'gwsnb[{EXTRA}]'") from exc
    return duckdb


def connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection (in memory, or on the ``database`` file) with a bounded memory ceiling."""
    duckdb = require_duckdb()
    con = duckdb.connect(database)
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
    # spilled data goes to the system's temporary folder, not to a .tmp folder beside the notebook
    con.execute(f"SET temp_directory={_quote(os.path.join(tempfile.gettempdir(), 'gwsnb-duckdb'))}")
    con.execute("SET preserve_insertion_order=false")
    return con


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(files: Sequence[os.PathLike[str] | str]) -> str:
    return "[" + ", ".join(_quote(os.fspath(f)) for f in files) + "]"


def register_parts(con: duckdb.DuckDBPyConnection, files: Mapping[str, Sequence[os.PathLike[str] | str]],
                   empty: Mapping[str, pd.DataFrame], prefix: str = "") -> None:
    """Views ``<prefix>records|metrics|calls`` over each table's part files (an empty frame's columns
    where a table has no part yet), and ``<prefix>latest``."""
    for table in TABLES:
        parts = list(files.get(table, ()))
        name = prefix + table
        if parts:
            # one schema per table: the writer casts every part to its first part's (gwsnb/runs.py)
            source = f"read_parquet({_file_list(parts)}"
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source})")
            if table == "records":
                con.execute(f"CREATE OR REPLACE VIEW {prefix}_records_seq AS SELECT * EXCLUDE (filename), "
                            f"filename AS _file, file_row_number AS _row FROM {source}, filename=true, "
                            f"file_row_number=true)")
        else:
            _register_frame(con, name, empty[table], sequenced=table == "records", prefix=prefix)
    _latest_view(con, prefix)


def register_frames(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame], prefix: str = "") -> None:
    """Views ``<prefix>records|metrics|calls`` over in-memory frames (a batch's), and ``<prefix>latest``."""
    for table in TABLES:
        _register_frame(con, prefix + table, frames[table], sequenced=table == "records", prefix=prefix)
    _latest_view(con, prefix)


def _register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, *, sequenced: bool,
                    prefix: str) -> None:
    import numpy as np

    con.register(f"_{name}_frame", frame)
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{name}_frame")
    if sequenced:
        seq = frame.copy(deep=False)
        seq["_file"] = ""
        seq["_row"] = np.arange(len(seq), dtype=np.int64)
        con.register(f"_{name}_seq_frame", seq)
        con.execute(f"CREATE OR REPLACE VIEW {prefix}_records_seq AS SELECT * FROM _{name}_seq_frame")


def _latest_view(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    con.execute(
        f"CREATE OR REPLACE VIEW {prefix}latest AS "
        f"SELECT r.* EXCLUDE (_file, _row, _sent) FROM ("
        f"  SELECT s.*, c._sent FROM {prefix}_records_seq s"
        f"  LEFT JOIN (SELECT reference_id AS _ref, sent AS _sent FROM {prefix}calls) c ON s.reference_id = c._ref"
        f") r QUALIFY row_number() OVER (PARTITION BY r.record_handle "
        f"ORDER BY r._sent DESC NULLS LAST, r._file DESC, r._row DESC) = 1")


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, path: str) -> None:
    """Write the answer of ``query`` to the Parquet file ``path`` (zstd) with DuckDB's COPY: streamed from
    DuckDB's tables to the file, spilling as needed, never held whole in Python.  Written beside the
    target, then moved in place, so that a reader never sees half a file."""
    partial = path + ".partial"
    con.execute(f"COPY ({query}) TO {_quote(partial)} (FORMAT parquet, COMPRESSION zstd)")
    os.replace(partial, path)


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """The answer of ``sql`` as a DataFrame."""
    return con.execute(sql, params or []).df()
