"""HTML for people: the form's result area and the notebook summaries of a result and a batch.

One set of helpers (tables, status lines, error lists, inline SVG charts, the CSV download link, the
summary table) shared by :class:`~gwsnb.widgets.ChainedRecordForm` and the ``_repr_html_`` of
:class:`~gwsnb.results.ChainedRecordResult` and :class:`~gwsnb.batch.ChainedRecordBatch`.  Values are
shown in their written forms (:func:`gwsnb.frames.readable`), charts are drawn by :mod:`gwsnb.plots` on
figures of their own (matplotlib's object API, no pyplot state: safe from the form's worker thread).
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING, Any

from .. import frames, labels, plots, protocol
from ..batch import percentiles
from ..errors import describe_error

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..batch import ChainedRecordBatch
    from ..results import ChainedRecordResult

COLORS = {"ok": "#2e7d32", "error": "#c62828", "warning": "#ef6c00", "info": "#1565c0", "muted": "#666"}
_ERRORS_LISTED = 20
_ROWS_SHOWN = 500
_CHART_MAX_BARS = 60  # beyond this a per-event bar chart is unreadable: show a histogram instead
_RESULT_COLUMNS = ("chain_n", "contact_info", "record_status", "call_result", "attempt")
TABLE_COLUMNS = ("record_handle", "chain_id", "chain_n", "contact_info", "contact_info_type", "record_status",
                 "call_result", "attempt", "calling_list")

# Scoped to gwsnb's own classes; JupyterLab's rendered-HTML table style does not reach widget HTML.
TABLE_STYLE = """<style>
table.gwsnb-records {border-collapse: collapse; font-size: 12px; margin: 4px 0;}
table.gwsnb-records th {text-align: left !important; background: #f3f3f3; padding: 3px 10px; position: sticky; top: 0;
  border-bottom: 1px solid #bbb; white-space: nowrap;}
table.gwsnb-records td {padding: 2px 10px; border-bottom: 1px solid #eee; white-space: nowrap;}
table.gwsnb-records tbody tr:nth-child(even) td {background: #fafafa;}
</style>"""


# ---------------------------------------------------------------------------------------- text
def status(text: str, style: str) -> str:
    """A coloured status line (``style``: ok, error, warning, info, muted)."""
    return f"<span class='gwsnb-status-text' style='color:{COLORS[style]}'>{html.escape(text)}</span>"


def error_list(items: list[tuple[int | None, BaseException]]) -> str:
    """The errors, one per line with the record handle (at most 20 listed)."""
    lines = []
    for handle, error in items[:_ERRORS_LISTED]:
        where = "" if handle is None or handle < 0 else f"record handle {handle}: "
        lines.append(f"<li>{html.escape(where + describe_error(error))}</li>")
    if len(items) > _ERRORS_LISTED:
        lines.append(f"<li>… and {len(items) - _ERRORS_LISTED} more (see form.errors)</li>")
    return ("<div class='gwsnb-error' style='border-left:4px solid #c62828;background:#fdecea;"
            "padding:4px 8px;margin:4px 0'><ul style='margin:0;padding-left:16px'>" + "".join(lines)
            + "</ul></div>")


def fmt_ms(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f} ms"


def summary_table(results: list[ChainedRecordResult], metrics: pd.DataFrame) -> str:
    """Counts and p50 / max of the client's DataEnd time and the server's processing time."""
    totals = sorted(t for r in results if (t := r.timings.total_ms) is not None)
    server = plots.server_ms(metrics)
    cells = [
        ("calls", str(len(results))),
        ("records", str(sum(len(r.records) for r in results))),
        ("events", str(sum(len(r.events) for r in results))),
        ("DataEnd p50", fmt_ms(percentiles(totals, (50,)).get(50))),
        ("DataEnd max", fmt_ms(totals[-1] if totals else None)),
    ]
    if len(server):
        cells += [("server p50", fmt_ms(percentiles(server.tolist(), (50,))[50])),
                  ("server max", fmt_ms(float(server.max())))]
    return ("<table class='gwsnb-summary' style='border-collapse:collapse;margin:4px 0'><tr>"
            + "".join(f"<th style='padding:2px 10px;text-align:left'>{html.escape(k)}</th>" for k, _ in cells)
            + "</tr><tr>"
            + "".join(f"<td style='padding:2px 10px'>{html.escape(v)}</td>" for _, v in cells)
            + "</tr></table>")


def records_table(records: pd.DataFrame) -> str:
    """The main columns of the records as an HTML table (first 500 rows), values in written form."""
    shown = records[[c for c in TABLE_COLUMNS if c in records.columns]]
    more = ""
    if len(shown) > _ROWS_SHOWN:
        more = f"<p>first {_ROWS_SHOWN} of {len(shown)} rows; all in form.records_frame()</p>"
        shown = shown.head(_ROWS_SHOWN)
    table = frames.readable(shown).to_html(index=False, na_rep="", border=0, classes="gwsnb-records", escape=True)
    return f"{TABLE_STYLE}<div class='gwsnb-records-wrap'>{table}</div>{more}"


def download_link(records: pd.DataFrame) -> str:
    """A ``data:`` link to the records as CSV, in the same written form as ``batch.to_csv``."""
    payload = base64.b64encode(frames.readable(records).to_csv(index=False).encode("utf-8")).decode("ascii")
    return (f"<a class='gwsnb-download' download='chained-records.csv' href='data:text/csv;base64,{payload}' "
            f"style='color:#1565c0'>⬇ Download {len(records)} record(s) as CSV</a>")


# ---------------------------------------------------------------------------------------- charts
def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def svg(fig: Figure) -> str:
    """``fig`` as an inline ``<svg>`` element (no XML prolog)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]


def processing_chart(metrics: pd.DataFrame) -> str:
    """Server processing time per event as an inline SVG: one bar per event (orange: DataEnd), or a
    histogram beyond 60 events."""
    values = plots.server_ms(metrics).tolist() if len(metrics) else []
    if not values:
        return ""
    fig = _figure(4.2, 2.4)
    ax = fig.add_subplot()
    if len(metrics) <= _CHART_MAX_BARS and len(values) == len(metrics):
        events = metrics["user_event"].astype(str).tolist()
        colors = [plots.ORANGE if e == protocol.CHAINED_RECORDS_DATA_END else plots.BLUE for e in events]
        ax.bar(range(1, len(values) + 1), values, color=colors)
        ax.set_xlabel("event (orange: DataEnd)")
        ax.set_ylabel("ms")
    else:
        plots.draw_histogram(ax, values, color=plots.BLUE, title="server processing", legend=False)
    ax.set_title("Server processing time per event", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return svg(fig)


def timeline_chart(result: ChainedRecordResult) -> str:
    """The call's timeline, small, as an inline SVG ("" for a result without events)."""
    if not result.events:
        return ""
    fig = _figure(4.6, 2.3)
    ax = fig.add_subplot()
    plots.draw_timeline(ax, result, labels=False)
    ax.tick_params(labelsize=7)
    ax.xaxis.label.set_fontsize(8)
    ax.yaxis.label.set_fontsize(8)
    fig.tight_layout()
    return svg(fig)


def latency_chart(batch: ChainedRecordBatch) -> str:
    """The client's POST-to-DataEnd times of the batch's successful calls, small, as an inline SVG."""
    values = plots.client_ms(batch.calls_frame()).tolist()
    if not values:
        return ""
    fig = _figure(4.6, 2.3)
    ax = fig.add_subplot()
    plots.draw_histogram(ax, values, color=plots.PURPLE, title="POST to DataEnd")
    ax.set_title(f"{len(values)} successful call(s)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return svg(fig)


# ---------------------------------------------------------------------------------------- summaries
def _cell(code_labels: labels.CodeLabels, user_data: dict[str, Any], key: str) -> str:
    value = user_data.get(key, "")
    if key in labels.CODE_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        value = code_labels.label(key, value)
    return f"<td>{html.escape(str(value))}</td>"


def result_html(result: ChainedRecordResult) -> str:
    """The notebook summary of one call: what it asked, its timings, its records and its timeline."""
    esc = html.escape
    t = result.timings
    code_labels = labels.current()
    rows = []
    for record in result.records:
        raw_user_data = record.get("userData") if isinstance(record, dict) else None
        user_data: dict[str, Any] = raw_user_data if isinstance(raw_user_data, dict) else {}
        rows.append("<tr>" + "".join(_cell(code_labels, user_data, key) for key in _RESULT_COLUMNS) + "</tr>")
    state = "complete" if result.complete else "<b>incomplete</b> (no ChainedRecordsDataEnd)"
    table = ("<table><thead><tr>" + "".join(f"<th>{key}</th>" for key in _RESULT_COLUMNS)
             + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return (
        "<div class='gwsnb-result'>"
        f"<p><b>GetChainedRecord</b> handle {result.record_handle} · campaign {esc(result.campaign_name)} · "
        f"referenceId <code>{esc(result.reference_id)}</code> · {len(result.records)} record(s) · {state}</p>"
        f"<p>HTTP {fmt_ms(t.http_ms)} · first event {fmt_ms(t.first_event_ms)} · DataEnd {fmt_ms(t.total_ms)}"
        f" · {len(result.events)} event(s) · attempts {result.attempts}</p>"
        "<div style='display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap'>"
        f"<div>{table}</div><div class='gwsnb-chart'>{timeline_chart(result)}</div></div></div>"
    )
