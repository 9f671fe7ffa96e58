"""Campaign progress: what changed in a calling list between two runs (:func:`compare_runs`).

A run is a snapshot of the list (each record as GetChainedRecord read it); two runs of the same campaign
compared record by record (by ``record_handle``) tell which records changed and how: the
:class:`Comparison` holds the changed records with their fields before and after
(:meth:`Comparison.changes_frame`), the records added since and those no longer seen, the record_status
and call_result transition matrices, and the KPI deltas (:meth:`gwsnb.runs.Run.kpis` of each run side by
side).  Everything is computed by DuckDB on the runs' Parquet parts, so two 1,000,000-record runs compare
without loading either into pandas (benchmarks/bench_progress.py).  Each record counts once per run, its
latest reading.  See docs/campaign-progress.md.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterError
from .runs import Run, open_run

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["COMPARED_FIELDS", "Comparison", "compare_runs"]

#: the fields of a record whose change makes it a changed record
COMPARED_FIELDS = ("record_status", "call_result", "attempt", "dial_sched_time", "record_type")
# compared on the code (a label may be configured differently), shown with the label
_CODED = ("record_status", "call_result", "record_type")
_B, _A = "before_", "after_"
_SHOWN_DELTAS = 30


def _as_run(value: Run | str | os.PathLike[str], field: str) -> Run:
    if isinstance(value, Run):
        return value
    if isinstance(value, (str, os.PathLike)):
        return open_run(value)
    raise InvalidParameterError(field, value, "expected a gwsnb run or the path of its folder")


def _describe(run: Run) -> str:
    return f"campaign {run.campaign_name!r} (application id {run.application_id}) at {os.fspath(run.path)}"


def compare_runs(before: Run | str | os.PathLike[str], after: Run | str | os.PathLike[str], *,
                 now_before: Any = None, now_after: Any = None) -> Comparison:
    """Compare two runs of one campaign, record by record: see :class:`Comparison`.

    ``before`` and ``after`` are runs (:func:`gwsnb.open_run`) or their folders.  ``now_before`` /
    ``now_after``: the instants each run's KPIs are measured at (default: when its last call was sent).
    Handles present in one run only are reported (:meth:`Comparison.added_frame`,
    :meth:`Comparison.gone_frame`), not an error.

    :raises InvalidParameterError: (field ``after``) the runs are of different campaigns or application
        ids (the message names both); (field ``before``/``after``) not a run; (``now_before``/``now_after``)
        not an instant with its zone.
    :raises ImportError: DuckDB or pyarrow is missing (``pip install 'gwsnb[parquet]'``).
    """
    first, second = _as_run(before, "before"), _as_run(after, "after")
    if (first.campaign_name, first.application_id) != (second.campaign_name, second.application_id):
        raise InvalidParameterError(
            "after", os.fspath(second.path),
            f"runs of different campaigns are not compared: before is {_describe(first)}, "
            f"after is {_describe(second)}")
    return Comparison(first, second, now_before=now_before, now_after=now_after)


class Comparison:
    """Two runs of one campaign compared (made by :func:`compare_runs`).

    - ``changed``, ``added``, ``gone``, ``unchanged``: how many records changed (one of
      :data:`COMPARED_FIELDS`), appeared (in the later run only: AddRecord), are no longer seen (in the
      earlier run only), or did not change;
    - :meth:`changes_frame`, :meth:`added_frame`, :meth:`gone_frame`: those records;
    - :meth:`status_transitions`, :meth:`call_result_transitions`: before → after counts over the
      records in both runs (unchanged ones on the diagonal);
    - :meth:`kpi_deltas`: each KPI before, after and the difference;
    - in a notebook, a summary with the record_status transitions as a heatmap beside the KPI deltas;
      :meth:`plot_transitions` draws either matrix with matplotlib.

    The answers are computed by DuckDB over the runs' files; only what a method returns is loaded.
    """

    def __init__(self, before: Run, after: Run, *, now_before: Any = None, now_after: Any = None) -> None:
        import tempfile

        from ._analysis import duck, kpis

        self.before = before
        self.after = after
        self._changes_columns: tuple[str, ...] | None = None
        # a database file of its own, so that the tables of the comparison live on disk beyond DuckDB's
        # memory ceiling (an in-memory database keeps them in memory); removed by close() or with this object
        self._folder = tempfile.TemporaryDirectory(prefix="gwsnb-compare-")
        self._con = duck.connect(os.path.join(self._folder.name, "comparison.duckdb"))
        before.duckdb(_B, self._con)
        after.duckdb(_A, self._con)
        self._build_pairs(kpis.latest_source(self._con, _B), kpis.latest_source(self._con, _A))
        self._kpis_before = kpis.kpis(self._con, _B, now_before, "now_before", table=self._side_view("b", _B))
        self._kpis_after = kpis.kpis(self._con, _A, now_after, "now_after", table=self._side_view("a", _A))
        row = self._con.execute(
            "SELECT count(*) FILTER (WHERE side = 'both' AND differs), count(*) FILTER (WHERE side = 'after'), "
            "count(*) FILTER (WHERE side = 'before'), count(*) FILTER (WHERE side = 'both' AND NOT differs) "
            "FROM _pairs").fetchone()
        assert row is not None
        self.changed, self.added, self.gone, self.unchanged = (int(v) for v in row)

    def _build_pairs(self, before: str, after: str) -> None:
        """One table of the records of either run (``before``, ``after``: their sources, each record once),
        both readings side by side: the runs' files are read once, and the KPIs of each run are computed
        on its side of this table (:meth:`_side_view`)."""
        from ._analysis.kpis import KPI_COLUMNS

        differs = " OR ".join(f"b.{self._key(f)} IS DISTINCT FROM a.{self._key(f)}" for f in COMPARED_FIELDS)
        sides = ", ".join(f"b.{c} AS b_{c}, a.{c} AS a_{c}" for c in KPI_COLUMNS)
        sched = "epoch(b.dial_sched_time) AS b_sched_s, epoch(a.dial_sched_time) AS a_sched_s"
        self._con.execute(
            f"CREATE OR REPLACE TABLE _pairs AS SELECT "
            f"CASE WHEN b.record_handle IS NULL THEN 'after' WHEN a.record_handle IS NULL THEN 'before' "
            f"ELSE 'both' END AS side, coalesce({differs}, false) AS differs, {sides}, {sched} "
            f"FROM {before} b FULL OUTER JOIN {after} a ON b.record_handle = a.record_handle")

    def _side_view(self, side: str, prefix: str) -> str:
        """A view of one run's records (its side of the pairs), with the columns the KPIs read."""
        from ._analysis.kpis import KPI_COLUMNS

        columns = ", ".join(f"{side}_{c} AS {c}" for c in (*KPI_COLUMNS, "sched_s"))
        name = f"{prefix}_side"
        self._con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM _pairs "
                          f"WHERE {side}_record_handle IS NOT NULL")
        return name

    @staticmethod
    def _key(field: str) -> str:
        return f"{field}_code" if field in _CODED else field

    def close(self) -> None:
        """Close the DuckDB connection and remove its temporary database (the methods cannot be called
        afterwards)."""
        self._con.close()
        self._folder.cleanup()

    # --- records ----------------------------------------------------------------------------------
    def _changes_view(self) -> str:
        """The view ``changes`` (made once): the changed records with their fields before and after."""
        if self._changes_columns is None:
            pairs = []
            for field in COMPARED_FIELDS:
                pairs.append(f"b_{field} AS {field}_before, a_{field} AS {field}_after")
                if field in _CODED:
                    pairs.append(f"b_{field}_code AS {field}_code_before, a_{field}_code AS {field}_code_after")
            self._con.execute(
                f"CREATE OR REPLACE VIEW changes AS SELECT a_record_handle AS record_handle, a_chain_id AS chain_id, "
                f"{', '.join(pairs)} FROM _pairs WHERE side = 'both' AND differs")
            described = self._con.execute("DESCRIBE changes").fetchall()
            self._changes_columns = tuple(str(row[0]) for row in described)
        return "changes"

    def changes_frame(self) -> pd.DataFrame:
        """One row per record in both runs whose record_status, call_result, attempt, dial_sched_time or
        record_type changed: ``record_handle``, ``chain_id``, then ``<field>_before`` and
        ``<field>_after`` for each of those fields (labels for the code fields, beside their
        ``*_code_before/after``), ordered by record_handle.

        The whole answer is loaded into pandas: its memory grows with the number of changes (about 100,000
        on a 1,000,000-record list after a dialer's day).  For lists larger than memory, read it by pages
        (:meth:`changes`) or write it to Parquet (:meth:`to_parquet`)."""
        return _typed(self._con.execute(f"SELECT * FROM {self._changes_view()} ORDER BY record_handle").df())

    def changes(self, limit: int = 1000, where: Mapping[str, Any] | None = None, *,
                after: int | None = None) -> pd.DataFrame:
        """A page of :meth:`changes_frame`: at most ``limit`` changed records, ordered by record_handle,
        those with a record_handle greater than ``after`` (the last handle of the previous page), and
        only those matching ``where``.  Only the page is loaded::

            page = comparison.changes(5000, where={"record_status_after": "Updated"})
            while len(page):
                ...
                page = comparison.changes(5000, where={"record_status_after": "Updated"},
                                          after=page["record_handle"].iloc[-1])

        ``where`` maps columns of :meth:`changes_frame` to a value (equal), a list, tuple or set of values
        (any of them) or ``None`` (missing); the conditions all hold.  The values are passed to DuckDB as
        parameters, never written into the SQL: a value cannot change the query.  For other conditions,
        ``comparison.sql()`` runs SQL of your own over the view ``changes``.

        :raises InvalidParameterError: (``limit``) not an integer in 1..10,000,000; (``after``) not a record
            handle; (``where``) not a mapping, a key that is not a column of the changes, or an empty list.
        """
        from .params import check_int

        count = check_int("limit", limit, 1, 10_000_000)
        view = self._changes_view()
        conditions, params = self._where(where)
        if after is not None:
            conditions.append("record_handle > ?")
            params.append(check_int("after", after, -(2**63), 2**63 - 1))
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        frame = self._con.execute(f"SELECT * FROM {view}{clause} ORDER BY record_handle LIMIT {count}", params).df()
        return _typed(frame)

    def _where(self, where: Mapping[str, Any] | None) -> tuple[list[str], list[Any]]:
        """``where`` as SQL conditions on quoted known column names, with its values as parameters."""
        if where is None:
            return [], []
        if not isinstance(where, Mapping):
            raise InvalidParameterError("where", where, "expected a mapping of column to value, e.g. "
                                                        "{'record_status_after': 'Updated'}")
        self._changes_view()
        assert self._changes_columns is not None
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in where.items():
            if column not in self._changes_columns:
                raise InvalidParameterError("where", column, "not a column of the changes; expected one of "
                                                             + ", ".join(self._changes_columns))
            name = f'"{column}"'  # a known column name, quoted as an identifier
            if value is None:
                conditions.append(f"{name} IS NULL")
            elif isinstance(value, (list, tuple, set, frozenset)):
                values = list(value)
                if not values:
                    raise InvalidParameterError("where", {column: value}, "an empty list matches no record")
                conditions.append(f"{name} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
            else:
                conditions.append(f"{name} = ?")
                params.append(value)
        return conditions, params

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """The answer of a DuckDB ``query`` over the comparison's view ``changes`` (the columns of
        :meth:`changes_frame`, one row per changed record), as a DataFrame; ``params`` fill its ``?``.
        Your own SQL, as :meth:`gwsnb.runs.Run.sql`: write it yourself, do not paste text from elsewhere.

        :raises duckdb.Error: the query is not valid (DuckDB's message names the problem).
        """
        self._changes_view()
        return self._con.execute(query, list(params or [])).df()

    def to_parquet(self, folder: str | os.PathLike[str]) -> dict[str, str]:
        """Write the changed, added and no-longer-seen records as ``changes.parquet``, ``added.parquet``
        and ``gone.parquet`` (zstd) in ``folder`` (made if missing; files of those names are replaced),
        ordered by record_handle.  DuckDB writes them from its own tables, spilling to disk as needed:
        nothing is loaded into pandas, whatever the list's size.  Returns the paths written by name.

        :raises InvalidParameterError: (``folder``) exists and is not a folder.
        """
        from ._analysis.duck import copy_to_parquet
        from ._analysis.kpis import KPI_COLUMNS

        target = os.fspath(folder)
        if os.path.exists(target) and not os.path.isdir(target):
            raise InvalidParameterError("folder", target, "exists and is not a folder")
        os.makedirs(target, exist_ok=True)
        written = {}
        sources = {"changes": f"SELECT * FROM {self._changes_view()} ORDER BY record_handle"}
        for side in ("after", "before"):
            p = side[0]
            columns = ", ".join(f"{p}_{c} AS {c}" for c in KPI_COLUMNS)
            sources["added" if side == "after" else "gone"] = (
                f"SELECT {columns} FROM _pairs WHERE side = '{side}' ORDER BY {p}_record_handle")
        for name, query in sources.items():
            path = os.path.join(target, f"{name}.parquet")
            copy_to_parquet(self._con, query, path)
            written[name] = path
        return written

    def added_frame(self) -> pd.DataFrame:
        """The records of the later run that the earlier one did not hold (added since: AddRecord), with
        the columns the KPIs read, ordered by record_handle."""
        return self._one_side("after")

    def gone_frame(self) -> pd.DataFrame:
        """The records of the earlier run that the later one does not hold (its handles were not called,
        or the records are no longer in the list), ordered by record_handle."""
        return self._one_side("before")

    def _one_side(self, side: str) -> pd.DataFrame:
        from ._analysis.kpis import KPI_COLUMNS

        p = side[0]
        columns = ", ".join(f"{p}_{c} AS {c}" for c in KPI_COLUMNS)
        return _typed(self._con.execute(
            f"SELECT {columns} FROM _pairs WHERE side = '{side}' ORDER BY {p}_record_handle").df())

    # --- transitions --------------------------------------------------------------------------------
    def status_transitions(self) -> pd.DataFrame:
        """record_status before (rows) → after (columns): how many records of both runs made each move
        (those that kept their status on the diagonal)."""
        return self._transitions("record_status")

    def call_result_transitions(self) -> pd.DataFrame:
        """call_result before (rows) → after (columns), as :meth:`status_transitions`."""
        return self._transitions("call_result")

    def _transitions(self, field: str) -> pd.DataFrame:
        counts = self._con.execute(
            f"SELECT CAST(b_{field} AS VARCHAR) AS before, CAST(a_{field} AS VARCHAR) AS after, count(*) AS n "
            f"FROM _pairs WHERE side = 'both' GROUP BY 1, 2").df()
        counts = counts.fillna({"before": "(missing)", "after": "(missing)"})
        matrix = counts.pivot_table(index="before", columns="after", values="n", aggfunc="sum", fill_value=0)
        labels = sorted(set(matrix.index) | set(matrix.columns), key=lambda label: -int(
            counts.loc[(counts["before"] == label) | (counts["after"] == label), "n"].sum()))
        matrix = matrix.reindex(index=labels, columns=labels, fill_value=0).astype("int64")
        matrix.index.name, matrix.columns.name = f"{field} before", f"{field} after"
        return matrix

    def transition_counts(self, field: str = "record_status") -> list[tuple[str, str, int]]:
        """The moves of ``field`` (record_status or call_result) between the runs, most frequent first:
        ``(before, after, records)``, unchanged values left out."""
        matrix = self._transitions(field)
        moves = [(str(b), str(a), int(matrix.at[b, a])) for b in matrix.index for a in matrix.columns
                 if b != a and matrix.at[b, a]]
        return sorted(moves, key=lambda m: (-m[2], m[0], m[1]))

    def plot_transitions(self, field: str = "record_status", *, fig: Figure | None = None) -> Figure:
        """The transition matrix of ``field`` (record_status or call_result) as a matplotlib heatmap, counts
        written in the cells, colours on a log scale.  Returns the Figure.

        :raises InvalidParameterError: ``field`` is neither record_status nor call_result.
        """
        if field not in ("record_status", "call_result"):
            raise InvalidParameterError("field", field, "expected 'record_status' or 'call_result'")
        import numpy as np

        matrix = self._transitions(field)
        if fig is None:
            import matplotlib.pyplot as plt

            size = 2.5 + 0.45 * len(matrix)
            fig = plt.figure(figsize=(size + 1.5, size))
        from matplotlib.colors import LogNorm
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax = fig.subplots()
        values = matrix.to_numpy(dtype=float)
        top = values.max() if values.size else 0.0
        # the colours on a log scale of the counts themselves, so that the colour bar reads record counts
        # (1, 10, 100...), not their logarithms; empty cells are left blank (a log scale has no 0)
        cmap = _colormap("Blues")
        image = ax.imshow(np.ma.masked_equal(values, 0), cmap=cmap, norm=LogNorm(vmin=1, vmax=max(top, 10.0)))
        ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=60, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index], fontsize=7)
        ax.set_xlabel(f"{field} after")
        ax.set_ylabel(f"{field} before")
        for (row, column), value in np.ndenumerate(values):
            if value:
                dark = np.log1p(value) > 0.6 * np.log1p(top)
                ax.text(column, row, f"{int(value)}", ha="center", va="center", fontsize=6,
                        color="white" if dark else "black")
        bar = fig.colorbar(image, ax=ax, label="records (log scale)", shrink=0.8)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else ""))
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{field}: {self.changed} changed record(s)", fontsize=9)
        fig.tight_layout()
        return fig

    # --- KPIs ---------------------------------------------------------------------------------------
    def kpi_deltas(self) -> pd.DataFrame:
        """Each KPI (:meth:`gwsnb.runs.Run.kpis`) of both runs: ``group``, ``measure``, ``before``,
        ``after``, ``delta`` (counts), ``share_before``, ``share_after`` (a measure missing from one run
        counts 0 there)."""
        import pandas as pd

        keys = ["group", "measure"]
        left = self._kpis_before[[*keys, "count", "share"]].rename(columns={"count": "before", "share": "share_before"})
        right = self._kpis_after[[*keys, "count", "share"]].rename(columns={"count": "after", "share": "share_after"})
        merged = pd.merge(left, right, on=keys, how="outer", sort=False)
        order: dict[tuple[str, str], int] = {}
        for frame in (self._kpis_before, self._kpis_after):  # the earlier run's order, then the later's new rows
            for key in zip(frame["group"], frame["measure"], strict=True):
                order.setdefault(key, len(order))
        groups: dict[str, int] = {}
        for group, _measure in order:
            groups.setdefault(group, len(groups))
        merged["_group"] = merged["group"].map(groups)
        merged["_order"] = [order[(g, m)] for g, m in zip(merged["group"], merged["measure"], strict=True)]
        merged = merged.sort_values(["_group", "_order"], kind="stable").drop(columns=["_group", "_order"])
        merged = merged.reset_index(drop=True)
        merged["before"] = merged["before"].fillna(0).astype("Int64")
        merged["after"] = merged["after"].fillna(0).astype("Int64")
        merged["delta"] = merged["after"] - merged["before"]
        return merged[[*keys, "before", "after", "delta", "share_before", "share_after"]]

    def kpis(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The KPI frames of the earlier and the later run."""
        return self._kpis_before.copy(), self._kpis_after.copy()

    # --- display ------------------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: records in both, changed, added, no longer seen."""
        return (f"{self.changed + self.unchanged} record(s) in both runs: {self.changed} changed, "
                f"{self.unchanged} unchanged; {self.added} added; {self.gone} no longer seen")

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON-ready values (what ``gwsnb runs diff --json`` prints)."""
        deltas = self.kpi_deltas()
        return {
            "before": {"path": os.fspath(self.before.path), "now": str(self._kpis_before.attrs["now"])},
            "after": {"path": os.fspath(self.after.path), "now": str(self._kpis_after.attrs["now"])},
            "campaign_name": self.after.campaign_name, "application_id": self.after.application_id,
            "changed": self.changed, "unchanged": self.unchanged, "added": self.added, "gone": self.gone,
            "kpi_deltas": [{"group": g, "measure": m, "before": int(b), "after": int(a), "delta": int(d)}
                           for g, m, b, a, d in zip(deltas["group"], deltas["measure"], deltas["before"],
                                                     deltas["after"], deltas["delta"], strict=True)],
            "record_status_transitions": [list(t) for t in self.transition_counts("record_status")],
            "call_result_transitions": [list(t) for t in self.transition_counts("call_result")],
        }

    def __repr__(self) -> str:
        return (f"<Comparison {os.fspath(self.before.path)!r} -> {os.fspath(self.after.path)!r} "
                f"changed={self.changed} added={self.added} gone={self.gone}>")

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (f"<p><b>Campaign progress</b> · {esc(self.after.campaign_name)} · "
                f"<code>{esc(os.fspath(self.before.path))}</code> → <code>{esc(os.fspath(self.after.path))}</code>"
                f"<br>{esc(self.summary())} (each record once per run: its latest reading)</p>")
        heat = _heatmap_html(self.status_transitions())
        deltas = self.kpi_deltas()
        shown = deltas[(deltas["delta"] != 0) | deltas["group"].isin(["list", "progress"])].head(_SHOWN_DELTAS)
        rows = "".join(
            f"<tr><td>{esc(str(g))}</td><td>{esc(str(m))}</td><td>{b}</td><td>{a}</td><td>{d:+d}</td></tr>"
            for g, m, b, a, d in zip(shown["group"], shown["measure"], shown["before"], shown["after"],
                                     shown["delta"], strict=True))
        more = len(deltas[(deltas["delta"] != 0)]) - len(shown[shown["delta"] != 0])
        note = f"<p>… {more} more change(s): <code>kpi_deltas()</code></p>" if more > 0 else ""
        table = ("<table><thead><tr><th>group</th><th>measure</th><th>before</th><th>after</th><th>Δ</th>"
                 f"</tr></thead><tbody>{rows}</tbody></table>{note}")
        return (f"<div class='gwsnb-comparison'>{head}<div style='display:flex;gap:2em;align-items:flex-start'>"
                f"<div><p><b>record_status transitions</b> (rows before, columns after)</p>{heat}</div>"
                f"<div><p><b>KPI deltas</b></p>{table}</div></div></div>")


def _colormap(name: str) -> Any:
    """The named colormap, with masked (empty) cells drawn white."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="white")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer and string dtypes, UTC instants, as the frames of gwsnb.frames have them."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if name.startswith(("record_handle", "chain_id", "attempt")) or name.endswith(
                ("_code", "_code_before", "_code_after")):
            frame[name] = column.astype("Int64")
        elif name.startswith("dial_sched_time"):
            frame[name] = pd.to_datetime(column, utc=True)
        elif column.dtype == object or isinstance(column.dtype, (pd.CategoricalDtype, pd.StringDtype)):
            # pandas 3 reads text as its "str" dtype (missing as NaN), or as object when a page holds only
            # missing values: "string" (missing as NA) in every case, so that pages concatenate alike
            frame[name] = column.astype("string")
    return frame


def _heatmap_html(matrix: pd.DataFrame) -> str:
    """The matrix as an HTML table whose cells are shaded by their count (log scale)."""
    esc = html.escape
    top = max(1, int(matrix.to_numpy().max())) if matrix.size else 1
    head = "".join(f"<th style='writing-mode:vertical-rl'>{esc(str(c))}</th>" for c in matrix.columns)
    body = ""
    for label, counts in matrix.iterrows():
        cells = ""
        for value in counts.tolist():
            alpha = math.log1p(value) / math.log1p(top) if value else 0.0
            color = "#fff" if alpha > 0.6 else "#000"
            cells += (f"<td style='background:rgba(31,119,180,{alpha:.2f});color:{color};text-align:right'>"
                      f"{value}</td>")
        body += f"<tr><th>{esc(str(label))}</th>{cells}</tr>"
    return f"<table class='gwsnb-heatmap'><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
