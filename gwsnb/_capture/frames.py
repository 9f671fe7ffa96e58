"""The capture's own frames: one row per HTTP exchange, one row per Bayeux message (docs/captures.md).

The notifications, records, metrics and calls of a capture are built by :mod:`gwsnb.frames` itself (the
same builders as a live result); only what a live result has no frame for is built here, with the same
dtype conventions (instants ``datetime64[ns, UTC]``, durations ``*_ms`` Float64, ids and counts Int64,
text ``string``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import protocol
from .calls import envelope_status
from .har import CaptureMessage, Entry, value_hash

__all__ = ["MESSAGES_COLUMNS", "REQUESTS_COLUMNS", "messages_frame", "requests_frame"]

_STRING = pd.StringDtype()

REQUESTS_COLUMNS: tuple[str, ...] = (
    "entry", "started", "method", "path", "status", "status_code", "kind", "wait_ms", "receive_ms",
    "total_ms", "request_bytes", "response_bytes", "session", "session_set", "csrf_sent", "error",
)
"""The columns of :meth:`gwsnb.capture.Capture.requests_frame`, in order."""

MESSAGES_COLUMNS: tuple[str, ...] = (
    "entry", "at", "direction", "channel", "client_id", "message_id", "successful", "error",
    "advice_reconnect", "advice_timeout_ms", "advice_interval_ms", "held_ms", "payload",
)
"""The columns of :meth:`gwsnb.capture.Capture.messages_frame`, in order."""


def _utc(seconds: Sequence[float | None]) -> Any:
    ns = [None if s is None else int(round(s * 1e6)) * 1000 for s in seconds]
    return pd.array(pd.to_datetime(pd.array(ns, dtype="Int64"), unit="ns", utc=True))


def _kind(entry: Entry) -> str:
    if entry.is_bayeux:
        channels = {str(m.get("channel")) for m in entry.sent_messages()}
        for channel in (protocol.META_CONNECT, protocol.META_HANDSHAKE, protocol.META_SUBSCRIBE,
                        protocol.META_DISCONNECT):
            if channel in channels:
                return channel.rsplit("/", 1)[-1]
        return "publish"
    return "rest"


def requests_frame(entries: Sequence[Entry]) -> pd.DataFrame:
    """One row per exchange: ``entry`` (its index in the file), ``started`` (UTC), ``method``, ``path``,
    ``status`` (HTTP, 0 for no answer), ``status_code`` (the GWS envelope's statusCode), ``kind`` (``rest``,
    or the Bayeux request: ``handshake``, ``connect``, ``subscribe``, ``disconnect``, ``publish``),
    ``wait_ms``, ``receive_ms``, ``total_ms`` (Float64), ``request_bytes``, ``response_bytes`` (Int64, as
    the writer measured them), ``session`` (the JSESSIONID sent, as its short hash), ``session_set`` (the
    one the answer set), ``csrf_sent`` (boolean), ``error`` (why a request got no answer)."""
    def ints(values: list[Any]) -> Any:
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")

    columns: dict[str, Any] = {
        "entry": pd.array([e.index for e in entries], dtype="Int64"),
        "started": _utc([e.started_s for e in entries]),
        "method": pd.array([e.method for e in entries], dtype=_STRING),
        "path": pd.array([e.path for e in entries], dtype=_STRING),
        "status": pd.array([e.status for e in entries], dtype="Int64"),
        "status_code": pd.array([envelope_status(e) for e in entries], dtype="Int64"),
        "kind": pd.array([_kind(e) for e in entries], dtype=_STRING),
        "wait_ms": pd.array([e.wait_ms for e in entries], dtype="Float64"),
        "receive_ms": pd.array([e.receive_ms for e in entries], dtype="Float64"),
        "total_ms": pd.array([e.total_ms for e in entries], dtype="Float64"),
        "request_bytes": ints([e.request_size for e in entries]),
        "response_bytes": ints([e.response_size for e in entries]),
        "session": pd.array([e.session_hash for e in entries], dtype=_STRING),
        "session_set": pd.array([e.session_set_hash for e in entries], dtype=_STRING),
        "csrf_sent": pd.array([e.csrf_sent for e in entries], dtype="boolean"),
        "error": pd.array([e.error for e in entries], dtype=_STRING),
    }
    return pd.DataFrame(columns, copy=False)


def _advice(message: dict[str, Any], key: str) -> Any:
    advice = message.get("advice")
    value = advice.get(key) if isinstance(advice, dict) else None
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def messages_frame(messages: Sequence[CaptureMessage], entries: Mapping[int, Entry]) -> pd.DataFrame:
    """One row per Bayeux message: ``entry``, ``at`` (UTC: the request's start for a sent message, the
    answer's end for a received one), ``direction`` (``sent`` / ``received``), ``channel``, ``client_id``
    (its short hash), ``message_id``, ``successful`` (boolean, the meta replies'), ``error``,
    ``advice_reconnect``, ``advice_timeout_ms``, ``advice_interval_ms``, ``held_ms`` (Float64: for a
    ``/meta/connect`` reply, how long the server held the long poll: the exchange's total time) and
    ``payload`` (the message dict)."""
    rows = [m.message for m in messages]

    def text(key: str) -> Any:
        return pd.array([None if r.get(key) is None else str(r.get(key)) for r in rows], dtype=_STRING)

    held = [entries[m.entry].total_ms if m.direction == "received"
            and m.message.get("channel") == protocol.META_CONNECT and m.entry in entries else None for m in messages]
    successful = [r.get("successful") if isinstance(r.get("successful"), bool) else None for r in rows]
    columns: dict[str, Any] = {
        "entry": pd.array([m.entry for m in messages], dtype="Int64"),
        "at": _utc([m.at for m in messages]),
        "direction": pd.array([m.direction for m in messages], dtype=_STRING),
        "channel": text("channel"),
        "client_id": pd.array([value_hash(str(r["clientId"])) if r.get("clientId") else None for r in rows],
                              dtype=_STRING),
        "message_id": text("id"),
        "successful": pd.array(successful, dtype="boolean"),
        "error": text("error"),
        "advice_reconnect": pd.array([None if (v := _advice(r, "reconnect")) is None else str(v) for r in rows],
                                     dtype=_STRING),
        "advice_timeout_ms": pd.array([_float(_advice(r, "timeout")) for r in rows], dtype="Float64"),
        "advice_interval_ms": pd.array([_float(_advice(r, "interval")) for r in rows], dtype="Float64"),
        "held_ms": pd.array(held, dtype="Float64"),
        "payload": np.fromiter(rows, dtype=object, count=len(rows)),
    }
    return pd.DataFrame(columns, copy=False)
