"""The logic of a live watch on a client's CometD session: a bounded buffer of what arrives, and alerts.

:class:`WatchCore` is a :class:`~gwsnb._wire.cometd.SessionObserver`: the session calls it on its loop
thread with every received batch and every finished ``/meta/connect``.  That path is the transport's, so
it does little there: the events go into a bounded :class:`collections.deque` (what falls out is
counted in ``dropped``) and a few cheap tests raise alerts; rows (dicts, with the referenceId marked
``ours``, ``foreign`` or ``none`` and the delivery delay as an interval) are built only when someone
looks (:meth:`WatchCore.rows`), from a copy of the buffer (``deque.copy`` runs under the GIL, so a
reader on another thread sees a consistent snapshot).  Nothing here imports ipywidgets: the notebook
widget is :mod:`gwsnb.watch`, the command line ``gwsnb watch`` (``gwsnb/_cli/watch.py``).

The alerts (see docs/watch.md):

- ``402``: a meta reply ``402::Unknown client`` (the server forgot the session: restart, a balancer
  that is not sticky, a re-route); ``refused`` another unsuccessful meta reply;
- ``gap``: longer than ``gap_s`` between the end of one successful connect and the start of the next
  (failed attempts in between do not count: what the server published meanwhile may be lost, Bayeux has
  no replay);
- ``cut``: a held connect that ended before the advised timeout without bringing messages, or failed
  while held (a proxy's idle timeout shorter than CometD's hold); ``silent``: one unanswered past it;
- ``foreign``: a notification whose referenceId this client did not send (once per referenceId);
- ``multiple-clients``: the server's advice that another long-poll of the same browser session is
  held (two tabs, two clients sharing a cookie).
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import protocol
from .clock import ClockOffset, generated_ms

if TYPE_CHECKING:
    from .._wire.cometd import ConnectReport
    from ..results import Event

__all__ = ["Alert", "OwnReferences", "WatchCore", "ROW_FIELDS", "ALERT_KINDS"]

#: the fields of a row, in order (the columns of a watch's frame)
ROW_FIELDS = ("seq", "received_at", "channel", "message_type", "notification_type", "reference_id",
              "reference", "record_handle", "delay_low_ms", "delay_high_ms", "detail")
ALERT_KINDS = ("402", "refused", "gap", "cut", "silent", "foreign", "multiple-clients")
#: a held connect ending this long before its advised timeout (and bringing nothing) counts as cut; one
#: failing sooner than this after it was sent was refused, not cut (the gap alert tells that outage)
_CUT_SLACK_S = 1.0


@dataclass(frozen=True)
class Alert:
    """Something in the session a person should look at: ``kind`` (one of :data:`ALERT_KINDS`), when
    (``at``, ``time.time()`` seconds) and a sentence saying what was seen."""

    at: float
    kind: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "text": self.text}


class OwnReferences:
    """The referenceIds this client sent.

    The client's own ids share a random prefix (checked by ``startswith``: nothing to record per call);
    ids given by the caller, and the record operations', go into a bounded record of the most recent
    ``size``; ``forgotten`` counts those it has let go (a late notification for one of them would be
    called foreign).
    """

    def __init__(self, prefix: str, size: int = 10_000) -> None:
        self.prefix = prefix
        self.size = size
        self.forgotten = 0
        self._recent: OrderedDict[str, None] = OrderedDict()

    def add(self, reference_id: Any) -> None:
        key = str(reference_id)
        if key.startswith(self.prefix):
            return
        recent = self._recent
        recent[key] = None
        recent.move_to_end(key)
        if len(recent) > self.size:
            recent.popitem(last=False)
            self.forgotten += 1

    def kind(self, reference_id: Any) -> str:
        """``none`` (no referenceId), ``ours`` or ``foreign``."""
        if reference_id is None:
            return "none"
        key = reference_id if type(reference_id) is str else str(reference_id)
        return "ours" if key.startswith(self.prefix) or key in self._recent else "foreign"


class WatchCore:
    """Bounded buffer and alerts of one watch (see the module doc).

    :param references: which referenceIds are this client's
    :param clock: returns the client's current clock offset (for the delay intervals), or ``None``
    :param buffer: how many messages are kept (the oldest dropped and counted in ``dropped``)
    :param gap_s: the least pause between two connects that is an alert
    """

    def __init__(self, references: OwnReferences, clock: Callable[[], ClockOffset | None] = lambda: None, *,
                 buffer: int = 5000, gap_s: float = 2.0, max_alerts: int = 200) -> None:
        self.references = references
        self.clock = clock
        self.gap_s = gap_s
        self.started = time.time()
        self.stopped: float | None = None
        self._events: deque[Event] = deque(maxlen=buffer)
        #: messages received since the watch started (``received - len(buffer)`` were dropped)
        self.received_count = 0
        self.connects = 0
        self.alerts: deque[Alert] = deque(maxlen=max_alerts)
        self.alert_counts: Counter[str] = Counter()
        #: alerts raised so far (the deque keeps the last ``max_alerts``)
        self.alert_total = 0
        self._foreign_seen: set[str] = set()
        self._last_connect_end: float | None = None
        #: bumped on every change a view would show (a renderer skips a frame when it did not move)
        self.version = 0

    # --- the observer side (the client's loop thread) -------------------------------------------------
    def received(self, events: list[Event]) -> None:
        self._events.extend(events)
        self.received_count += len(events)
        self.version += 1
        kind = self.references.kind
        for event in events:
            message = event.message
            channel = message.get("channel")
            if type(channel) is str and channel.startswith("/meta/"):
                self._meta(event, channel)
                continue
            data = message.get("data")
            if type(data) is dict:
                ref = data.get("referenceId")
                if ref is not None and kind(ref) == "foreign":
                    self._foreign(event, ref, data)

    def _meta(self, event: Event, channel: str) -> None:
        message = event.message
        advice = message.get("advice")
        if type(advice) is dict and advice.get("multiple-clients"):
            self._alert(event.received_at, "multiple-clients",
                        f"{channel}: the server advises multiple-clients (another long-poll of this browser "
                        f"session is held: two tabs or two clients sharing a cookie); it answers one of them "
                        f"at once, so notifications may go to the other")
        if message.get("successful") is False:
            error = message.get("error")
            text = error if isinstance(error, str) else "no error text"
            if isinstance(error, str) and error.startswith(("402", "401")) and "unknown client" in error.lower():
                self._alert(event.received_at, "402",
                            f"{channel}: {text} (the server does not know this CometD client: restarted, "
                            f"another node behind a balancer, or the session expired); the client handshakes again")
            else:
                self._alert(event.received_at, "refused", f"{channel} refused: {text}")

    def _foreign(self, event: Event, ref: Any, data: dict[str, Any]) -> None:
        key = str(ref)
        self.alert_counts["foreign-messages"] += 1
        if key in self._foreign_seen or len(self._foreign_seen) >= 10_000:
            return
        self._foreign_seen.add(key)
        kind = data.get("notificationType") or data.get("messageType")
        forgotten = self.references.forgotten
        also = f"; or one of the {forgotten} referenceId(s) of ours the client no longer remembers" if forgotten else ""
        self._alert(event.received_at, "foreign",
                    f"{kind} for referenceId {key!r}, which this client did not send (another client's request "
                    f"delivered to this session{also})")

    def connect_finished(self, report: ConnectReport) -> None:
        self.connects += 1
        self.version += 1
        if report.outcome == "ok":  # failed attempts in between do not listen: they are part of the gap
            previous, self._last_connect_end = self._last_connect_end, report.ended
            if previous is not None and report.started - previous > self.gap_s:
                self._alert(report.started, "gap",
                            f"no successful /meta/connect for {report.started - previous:.1f} s (since "
                            f"{_hms(previous)}): what the server published meanwhile may be lost")
        hold_s = report.advised_timeout_ms / 1000.0
        if not report.held or hold_s <= 0:
            return
        if report.outcome == "silent":
            self._alert(report.ended, "silent",
                        f"a held /meta/connect got no answer within {report.duration_s:.1f} s (advised hold "
                        f"{hold_s:g} s): the server or something in between is silent")
        elif _cut(report, hold_s):
            why = f": {report.error}" if report.error else " with nothing to deliver"
            self._alert(report.ended, "cut",
                        f"a held /meta/connect ended after {report.duration_s:.1f} s, before the advised "
                        f"{hold_s:g} s{why} (a proxy or balancer idle timeout shorter than the hold?)")

    def _alert(self, at: float, kind: str, text: str) -> None:
        self.alerts.append(Alert(at, kind, text))
        self.alert_counts[kind] += 1
        self.alert_total += 1
        self.version += 1

    # --- the reader side (any thread) -------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Messages received but no longer in the buffer."""
        return max(0, self.received_count - len(self._events))

    def snapshot(self) -> tuple[list[Event], int]:
        """The buffered events (oldest first) and the sequence number of the first (1 = the first message
        the watch saw)."""
        events = list(self._events.copy())
        return events, self.received_count - len(events) + 1

    def rows(self, last: int | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """The buffered messages as rows (:data:`ROW_FIELDS`), oldest first; ``last`` keeps the newest
        ``last``; ``since`` keeps those whose ``seq`` is above it."""
        events, first = self.snapshot()
        start = max(0, since - first + 1)
        if last is not None:
            start = max(start, len(events) - last)
        offset = self.clock()
        kind = self.references.kind
        return [_row(first + i, events[i], offset, kind) for i in range(start, len(events))]

    def alert_list(self, *, since: int = 0) -> list[Alert]:
        """The alerts kept, oldest first; ``since``: only those after the first ``since`` ever raised."""
        alerts = list(self.alerts.copy())
        total = self.alert_total
        new = total - since
        if new <= 0:
            return []
        return alerts[-new:] if new < len(alerts) else alerts


def _cut(report: ConnectReport, hold_s: float) -> bool:
    """A held connect that ended early: answered empty well before the hold, or failed after being held a
    while (closed or reset, or an HTTP error such as a proxy's 504; a Bayeux refusal is not a cut)."""
    if report.outcome == "ok":
        return report.messages == 0 and report.duration_s < hold_s - _CUT_SLACK_S
    failed = report.outcome == "error" or (report.outcome == "refused" and (report.error or "").startswith("HTTP "))
    return failed and _CUT_SLACK_S <= report.duration_s < hold_s


def _hms(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}"


def _row(seq: int, event: Event, offset: ClockOffset | None, kind: Callable[[Any], str]) -> dict[str, Any]:
    message = event.message
    channel = message.get("channel")
    data = message.get("data")
    data = data if isinstance(data, dict) else {}
    ref = data.get("referenceId")
    record = data.get("record")
    user_data = data.get("userData")
    handle = record.get("recordHandle") if isinstance(record, dict) else None
    if handle is None and isinstance(user_data, dict):
        handle = user_data.get("GSW_RECORD_HANDLE")
    notification = data.get("notificationType")
    if notification is None and isinstance(user_data, dict):
        notification = user_data.get("GSW_USER_EVENT")
    low = high = None
    generated = generated_ms(message)
    if generated is not None and offset is not None:
        low, high = offset.delay_ms(generated, event.received_at)
    return {
        "seq": seq, "received_at": event.received_at,
        "channel": channel if isinstance(channel, str) else None,
        "message_type": _text(data.get("messageType")),
        "notification_type": _text(notification),
        "reference_id": None if ref is None else str(ref),
        "reference": kind(ref), "record_handle": handle if isinstance(handle, int) else None,
        "delay_low_ms": low, "delay_high_ms": high, "detail": _detail(message, channel),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _detail(message: dict[str, Any], channel: Any) -> str | None:
    """A meta reply's outcome (successful, error, advice); a Bayeux error otherwise."""
    if not (isinstance(channel, str) and channel.startswith("/meta/")):
        error = message.get("error")
        return error if isinstance(error, str) else None
    parts = ["ok" if message.get("successful") is True else "refused" if message.get("successful") is False else ""]
    error = message.get("error")
    if isinstance(error, str):
        parts.append(error)
    advice = message.get("advice")
    if isinstance(advice, dict):
        parts.append("advice " + ", ".join(f"{k}={advice[k]}" for k in sorted(advice)))
    if channel == protocol.META_SUBSCRIBE and isinstance(message.get("subscription"), str):
        parts.append(str(message["subscription"]))
    return " · ".join(p for p in parts if p) or None
