"""The text and JSON views of a capture (``gwsnb capture show``): sessions, CometD clients, calls, errors
and the timeline (docs/captures.md)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from .. import protocol
from ..errors import describe
from .calls import envelope_status, request_summary
from .har import Entry, value_hash

__all__ = ["summary", "text"]

#: lines of the timeline shown by the text view (the JSON has every GWS exchange)
TIMELINE_LINES = 60


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(entry: Entry, start: float) -> dict[str, Any]:
    channels = [str(m.get("channel")) for m in entry.sent_messages()]
    received = entry.received_messages()
    notifications = sum(1 for m in received if not str(m.get("channel", "")).startswith(protocol.META_PREFIX))
    return {
        "entry": entry.index, "at": _iso(entry.started_s), "offset_s": round(entry.started_s - start, 3),
        "request": request_summary(entry) if not channels else f"{entry.method} {entry.path} " + ",".join(channels),
        "status": entry.status, "status_code": envelope_status(entry),
        "total_ms": entry.total_ms, "notifications": notifications, "session": entry.session_hash,
        "error": entry.error,
    }


def _failed(entry: Entry) -> bool:
    if entry.status == 0 or entry.status >= 400:
        return True
    code = envelope_status(entry)
    if code not in (None, protocol.STATUS_OK, protocol.STATUS_PARTIAL_SUCCESS):
        return True
    return any(m.get("successful") is False for m in entry.received_messages())


def summary(capture: Any) -> dict[str, Any]:
    """Everything ``gwsnb capture show`` tells, as JSON-ready data."""
    start = capture.entries[0].started_s
    gws = capture.gws_entries
    clients: Counter[str] = Counter()
    for message in capture.messages:
        if message.direction == "received" and message.message.get("channel") == protocol.META_HANDSHAKE \
                and message.message.get("clientId"):
            clients[value_hash(str(message.message["clientId"]))] += 1
    calls = []
    for call in capture.calls:
        result = call.result
        calls.append({"entry": call.entry.index, "record_handle": result.record_handle,
                      "reference_id": result.reference_id, "records": len(result.records),
                      "status": "ok" if call.error is None and result.complete else "error",
                      "error": describe(call.error) if call.error is not None else (
                          None if result.complete else "no ChainedRecordsDataEnd in the capture"),
                      "total_ms": result.timings.total_ms})
    return {
        "path": capture.path,
        "creator": {"name": capture.creator.name, "version": capture.creator.version, "kind": capture.creator.kind},
        "start": _iso(start), "end": capture.end.isoformat().replace("+00:00", "Z"),
        "entries": len(capture.entries), "gws_entries": len(gws), "sanitized": capture.sanitized,
        "comment": capture.comment,
        "sessions": dict(capture.sessions), "cometd_clients": sorted(clients) or sorted(capture.clients),
        "notifications": len(capture.notifications),
        "calls": calls,
        "errors": [_event(e, start) for e in gws if _failed(e)],
        "timeline": [_event(e, start) for e in gws],
        "secrets": capture.secrets(),
    }


def _line(event: dict[str, Any]) -> str:
    status = str(event["status"]) + (f"/{event['status_code']}" if event["status_code"] not in (None, 0) else "")
    total = f"{event['total_ms']:.0f} ms" if event["total_ms"] is not None else "-"
    extra = f" +{event['notifications']} notif." if event["notifications"] else ""
    error = f" ({event['error']})" if event["error"] else ""
    return f"  #{event['entry']:<5} {event['offset_s']:>9.3f}s  {status:<7} {total:>9}  {event['request']}{extra}{error}"


def text(data: dict[str, Any]) -> str:
    """The summary as text for a person."""
    creator = data["creator"]
    lines = [
        f"capture {data['path']}",
        f"  written by {creator['name'] or '?'} {creator['version']} ({creator['kind']}); "
        f"{data['start']} to {data['end']}; {data['entries']} entries, {data['gws_entries']} to GWS",
    ]
    if data["comment"]:
        lines.append(f"  comment: {data['comment']}")
    if data["sanitized"]:
        lines.append("  sanitized: no cookie or Authorization header (the session findings cannot be checked)")
    if data["secrets"]:
        lines.append("  holds secrets: " + ", ".join(data["secrets"]) + " (redact before it travels)")
    sessions = ", ".join(f"{h} ({n} requests)" for h, n in data["sessions"].items()) or "none seen"
    lines += [f"sessions (JSESSIONID hash): {sessions}",
              f"CometD clients (clientId hash): {', '.join(data['cometd_clients']) or 'none seen'}",
              f"notifications: {data['notifications']}", f"calls: {len(data['calls'])}"]
    for call in data["calls"]:
        total = f" {call['total_ms']:.0f} ms" if call["total_ms"] is not None else ""
        outcome = call["status"] + (f": {call['error']}" if call["error"] else "")
        lines.append(f"  #{call['entry']:<5} handle {call['record_handle']} ref {call['reference_id']}: "
                     f"{call['records']} record(s){total}, {outcome}")
    lines.append(f"HTTP and Bayeux errors: {len(data['errors'])}")
    lines += [_line(e) for e in data["errors"]]
    shown = data["timeline"][:TIMELINE_LINES]
    lines.append(f"timeline ({len(shown)} of {len(data['timeline'])} GWS exchanges):")
    lines += [_line(e) for e in shown]
    return "\n".join(lines)
