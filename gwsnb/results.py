"""What a GetChainedRecord call hands back: the raw events, the chained records and the call's timings.

The data model is deliberately plain (dataclasses holding the messages exactly as received) so that
nothing is lost; :mod:`gwsnb.frames` turns it into analysis-ready DataFrames, :mod:`gwsnb.plots` into
pictures.

The dependency goes one way: ``frames``, ``plots`` and ``_render`` read this module's classes; this module
(and :mod:`gwsnb.batch`) reach them only through :func:`_view`, on first use, which also keeps pandas
and matplotlib out of ``import gwsnb``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["Event", "CallTimings", "ChainedRecordResult", "CoveredHandle", "OperationResult"]


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


def _view(name: str) -> ModuleType:
    """The view module ``gwsnb.<name>`` (``frames``, ``plots`` or ``_render``), imported on first use.

    The one place where the data model reaches the modules built on it (they import this module, not
    the other way round at import time)."""
    return importlib.import_module(f"{__package__}.{name}")


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
        return _view("frames").records_frame([self])

    def metrics_frame(self) -> pd.DataFrame:
        """One row per server event with its timing metrics; see :func:`gwsnb.frames.metrics_frame`."""
        return _view("frames").metrics_frame([self])

    def events_frame(self) -> pd.DataFrame:
        """One row per correlated raw message; see :func:`gwsnb.frames.events_frame`."""
        return _view("frames").events_frame(self.events)

    def plot_timeline(self, *, ax: Axes | None = None) -> Axes:
        """The call's messages against ms since the POST, HTTP answer and DataEnd marked (matplotlib);
        see :func:`gwsnb.plots.timeline`.  Returns the Axes."""
        return _view("plots").timeline(self, ax=ax)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return (
            f"<ChainedRecordResult handle={self.record_handle} reference_id={self.reference_id!r} "
            f"records={len(self.records)} events={len(self.events)} {state}"
            + (f" total_ms={self.timings.total_ms:.1f}" if self.timings.total_ms is not None else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        """The notebook summary: the call, its timings, its records (labels for codes) and its timeline."""
        return str(_view("_display.render").result_html(self))


@dataclass(frozen=True)
class CoveredHandle:
    """A handle of a bulk run that was not called because its record came back in the chain of another
    handle's call (``covered_by``) in the same run: its records are that call's.  See ``docs/engine.md``
    ("Each chain once")."""

    record_handle: int
    covered_by: int

    def __str__(self) -> str:
        return f"handle {self.record_handle}: covered by the call for handle {self.covered_by}"


@dataclass
class OperationResult:
    """What a record operation got back.

    - ``acknowledgement``: the ``data`` of the notification that ended the operation (its
      ``notificationType`` is also in ``notification_type``: the acknowledgement, or ``PreviewRecordEmpty``).
    - ``user_event``: the ``data`` of the paired ``/me/internal`` DeviceUserEventMessage (the server's
      metrics), or ``None`` when none came.
    - ``record``: the acknowledgement's ``record`` object (for GetPreviewRecord the record handed out,
      ``userData`` included); ``record_handle``: the handle operated on, or the one the acknowledgement
      named (AddRecord's new record, GetPreviewRecord's record); ``None`` when there is none.
    - ``timings``: :class:`CallTimings`; ``data_end`` is the acknowledgement's arrival.
    - ``events``: every correlated message, in arrival order.
    """

    operation: str
    reference_id: str
    record_handle: int | None
    campaign_name: str
    application_id: int
    device_path: str
    timings: CallTimings
    acknowledgement: dict[str, Any] | None = None
    notification_type: str | None = None
    user_event: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """GetPreviewRecord found nothing to hand out (``PreviewRecordEmpty``)."""
        return self.notification_type == "PreviewRecordEmpty"

    def __repr__(self) -> str:
        total = self.timings.total_ms
        return (f"<OperationResult {self.operation} handle={self.record_handle} -> {self.notification_type} "
                f"user_event={'yes' if self.user_event is not None else 'no'}"
                + (f" total_ms={total:.1f}" if total is not None else "") + ">")
