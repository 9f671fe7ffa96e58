"""What a GetChainedRecord call hands back: the raw events, the chained records and the call's timings.

The data model is deliberately plain (dataclasses holding the messages exactly as received) so that
nothing is lost; :mod:`gwsnb.frames` turns it into analysis-ready DataFrames.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from . import labels

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Event", "CallTimings", "ChainedRecordResult"]


class Event(NamedTuple):
    """One CometD message as the client received it.

    ``received_at`` is wall-clock time (``time.time()``, seconds since the epoch, UTC) taken when the
    message was read off the transport; ``message`` is the Bayeux message dict, untouched.
    """

    received_at: float
    message: dict[str, Any]

    @property
    def channel(self) -> str | None:
        channel = self.message.get("channel")
        return channel if isinstance(channel, str) else None

    @property
    def data(self) -> dict[str, Any]:
        data = self.message.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def received_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.received_at, tz=timezone.utc)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


@dataclass
class CallTimings:
    """Client-side instants of one call (``time.time()`` seconds) and the durations derived from them.

    ``first_event`` may come before ``http_answered``: GWS can deliver notifications before the
    HTTP acknowledgement.
    """

    sent: float
    http_answered: float | None = None
    first_event: float | None = None
    data_end: float | None = None

    @property
    def http_ms(self) -> float | None:
        """From sending the POST to its HTTP answer."""
        return _ms(self.sent, self.http_answered)

    @property
    def first_event_ms(self) -> float | None:
        """From sending the POST to the first correlated notification."""
        return _ms(self.sent, self.first_event)

    @property
    def total_ms(self) -> float | None:
        """From sending the POST to ChainedRecordsDataEnd."""
        return _ms(self.sent, self.data_end)

    def as_dict(self) -> dict[str, float | None]:
        return {
            "sent": self.sent,
            "http_answered": self.http_answered,
            "first_event": self.first_event,
            "data_end": self.data_end,
            "http_ms": self.http_ms,
            "first_event_ms": self.first_event_ms,
            "total_ms": self.total_ms,
        }


@dataclass
class ChainedRecordResult:
    """The answer to one GetChainedRecord call.

    - ``records``: the ``data["record"]`` dict of each ChainedRecord notification, in ``chain_n`` order
      (``recordHandle``, ``campaignName``, ``callingList``, ``applicationId``, ``devicePath``, ``userData``).
    - ``end``: the ``data`` of the ChainedRecordsDataEnd notification, or ``None`` when it never came
      (then the call failed and this object is the partial result carried by the error).
    - ``events``: every message correlated with the call, both ``/v2/me/outbound`` notifications and the
      paired ``/me/internal`` DeviceUserEventMessages, in arrival order.
    - ``user_events``: the paired ``/me/internal`` events alone (they carry the server's metrics).
    """

    reference_id: str
    record_handle: int
    campaign_name: str
    application_id: int
    device_path: str
    timings: CallTimings
    records: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)
    user_events: list[Event] = field(default_factory=list)
    attempts: int = 1

    @property
    def complete(self) -> bool:
        return self.end is not None

    def records_frame(self) -> pd.DataFrame:
        """One row per chained record; see :func:`gwsnb.frames.records_frame`."""
        from . import frames

        return frames.records_frame([self])

    def metrics_frame(self) -> pd.DataFrame:
        """One row per server event with its timing metrics; see :func:`gwsnb.frames.metrics_frame`."""
        from . import frames

        return frames.metrics_frame([self])

    def events_frame(self) -> pd.DataFrame:
        """One row per correlated raw message; see :func:`gwsnb.frames.events_frame`."""
        from . import frames

        return frames.events_frame(self.events)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return (
            f"<ChainedRecordResult handle={self.record_handle} reference_id={self.reference_id!r} "
            f"records={len(self.records)} events={len(self.events)} {state}"
            + (f" total_ms={self.timings.total_ms:.1f}" if self.timings.total_ms is not None else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        t = self.timings

        def fmt(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f} ms"

        code_labels = labels.current()

        def cell(user_data: dict[str, Any], key: str) -> str:
            value = user_data.get(key, "")
            if key in labels.CODE_FIELDS and isinstance(value, int) and not isinstance(value, bool):
                value = code_labels.label(key, value)
            return f"<td>{esc(str(value))}</td>"

        rows = []
        for record in self.records:
            raw_user_data = record.get("userData")
            user_data: dict[str, Any] = raw_user_data if isinstance(raw_user_data, dict) else {}
            rows.append(
                "<tr>"
                + "".join(cell(user_data, key)
                          for key in ("chain_n", "contact_info", "record_status", "call_result", "attempt"))
                + "</tr>"
            )
        state = "complete" if self.complete else "<b>incomplete</b> (no ChainedRecordsDataEnd)"
        return (
            "<div class='gwsnb-result'>"
            f"<p><b>GetChainedRecord</b> handle {self.record_handle} · campaign {esc(self.campaign_name)} · "
            f"referenceId <code>{esc(self.reference_id)}</code> · {len(self.records)} record(s) · {state}</p>"
            f"<p>HTTP {fmt(t.http_ms)} · first event {fmt(t.first_event_ms)} · DataEnd {fmt(t.total_ms)}"
            f" · {len(self.events)} event(s) · attempts {self.attempts}</p>"
            "<table><thead><tr><th>chain_n</th><th>contact_info</th><th>record_status</th>"
            "<th>call_result</th><th>attempt</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )
