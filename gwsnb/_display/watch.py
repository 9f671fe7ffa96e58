"""The live watch as people read it: an HTML table for the notebook widget, text lines and JSON lines for
``gwsnb watch``.  Both are built from :meth:`gwsnb._engine.watch.WatchCore.rows` and its alerts, so the two
views show the same thing (docs/watch.md).  Nothing here holds a secret: a row is a message's channel,
types, referenceId and timing; an alert a sentence about the session.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from .._engine.watch import Alert, WatchCore

__all__ = ["alert_json", "alert_line", "clock_text", "delay_text", "header", "row_json", "row_line", "table_html"]

_REFERENCE_COLORS = {"ours": "#2e7d32", "foreign": "#c62828", "none": "#757575"}
_ALERT_SHOWN = 8
STYLE = """<style>
table.gwsnb-watch {border-collapse: collapse; font-size: 12px; font-family: monospace;}
table.gwsnb-watch th {text-align: left !important; background: #f3f3f3; padding: 2px 8px;}
table.gwsnb-watch td {text-align: left !important; padding: 1px 6px; border-top: 1px solid #eee; white-space: nowrap;}
div.gwsnb-watch-rows {overflow-x: auto; max-width: 100%;}
div.gwsnb-watch-alerts {color: #c62828; font-size: 12px; margin: 2px 0;}
</style>"""


def clock_text(at: float) -> str:
    """``HH:MM:SS.mmm`` UTC."""
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}"


def delay_text(row: dict[str, Any]) -> str:
    low, high = row.get("delay_low_ms"), row.get("delay_high_ms")
    if low is None or high is None:
        return ""
    return f"{low:.1f}–{high:.1f} ms"


def _kind(row: dict[str, Any]) -> str:
    return " / ".join(v for v in (row.get("message_type"), row.get("notification_type")) if v)


def header(core: WatchCore, *, state: str) -> str:
    """One line: what the watch has seen so far."""
    alert_counts = dict(core.alert_counts)  # a copy in one step: the loop thread may add a kind meanwhile
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(alert_counts.items()) if kind != "foreign-messages")
    dropped = f" ({core.dropped} no longer buffered)" if core.dropped else ""
    offset = core.clock()
    clock = f" · {offset.describe()}" if offset is not None else ""
    return (f"{state} · {core.received_count} message(s){dropped} · {core.connects} connect(s) · "
            f"alerts: {counts or 'none'}{clock}")


def table_html(core: WatchCore, *, rows: int, state: str) -> str:
    """The widget's content: the header, the latest alerts and the newest ``rows`` messages, newest first."""
    esc = html.escape
    alerts = core.alert_list()[-_ALERT_SHOWN:]
    alert_html = "".join(f"<div>⚠ {esc(clock_text(a.at))} <b>{esc(a.kind)}</b>: {esc(a.text)}</div>"
                         for a in reversed(alerts))
    body = []
    for row in reversed(core.rows(last=rows)):
        ref = row["reference_id"] or ""
        color = _REFERENCE_COLORS.get(row["reference"], "#000")
        body.append(
            f"<tr><td>{row['seq']}</td><td>{esc(clock_text(row['received_at']))}</td>"
            f"<td>{esc(row['channel'] or '')}</td>"
            f"<td title='{esc(_kind(row))}'>{esc(row['notification_type'] or row['message_type'] or '')}</td>"
            f"<td style='color:{color}'>{esc(row['reference'])} {esc(ref)}</td>"
            f"<td>{'' if row['record_handle'] is None else row['record_handle']}</td>"
            f"<td>{esc(delay_text(row))}</td><td>{esc(row['detail'] or '')}</td></tr>")
    return (f"{STYLE}<div class='gwsnb-watch'><div><b>CometD watch</b> · {esc(header(core, state=state))}</div>"
            f"<div class='gwsnb-watch-alerts'>{alert_html}</div>"
            "<div class='gwsnb-watch-rows'><table class='gwsnb-watch'><thead><tr><th>#</th><th>time (UTC)</th>"
            "<th>channel</th><th>type</th><th>referenceId</th><th>handle</th><th>delay</th><th>detail</th></tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div></div>")


def row_line(row: dict[str, Any]) -> str:
    """One message as a line of ``gwsnb watch``."""
    ref = row["reference"] + (f" {row['reference_id']}" if row["reference_id"] else "")
    parts = [clock_text(row["received_at"]), row["channel"] or "?", _kind(row) or "-", ref]
    if row["record_handle"] is not None:
        parts.append(f"handle {row['record_handle']}")
    delay = delay_text(row)
    if delay:
        parts.append(f"delay {delay}")
    if row["detail"]:
        parts.append(row["detail"])
    return "  ".join(parts)


def alert_line(alert: Alert) -> str:
    return f"{clock_text(alert.at)}  ALERT {alert.kind}: {alert.text}"


def row_json(row: dict[str, Any]) -> str:
    return json.dumps({"type": "message", **row}, ensure_ascii=False)


def alert_json(alert: Alert) -> str:
    return json.dumps({"type": "alert", **alert.as_dict()}, ensure_ascii=False)
