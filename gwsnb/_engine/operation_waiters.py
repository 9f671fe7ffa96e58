"""Routing CometD notifications to the record operations waiting for them (docs/record-operations.md).

The :class:`~gwsnb._engine.correlate.Correlator` hands every non-``/meta`` message to :meth:`OperationWaiters.claim`
first; what is claimed here is counted there as ``routed`` or ``paired``, the rest goes on to the
GetChainedRecord routing.

- An operation is registered under ``str(referenceId)`` *before* its POST.  On ``/v2/me/outbound`` the
  first message with that referenceId ends it: the acknowledgement, ``Error`` (the waiter fails with
  :class:`~gwsnb.errors.RecordOperationError`), or any other notificationType (reported as it came: a real
  server may name an acknowledgement otherwise).  Later messages with the referenceId are kept in
  ``result.events`` while the operation lingers.
- The ``/me/internal`` DeviceUserEventMessage carries no referenceId.  It is paired with the oldest
  operation of the same device (when both name one) whose expected ``GSW_USER_EVENT`` it carries and whose
  record matches: ``GSW_RECORD_HANDLE`` for the operations on a handle (and for AddRecord and
  GetPreviewRecord once their acknowledgement named the handle), ``GSW_PHONE`` for DoNotCallRecord by
  number, ``GSW_CAMPAIGN_NAME`` otherwise.  It may come before its acknowledgement: it is paired with the
  waiting operation then, except when it names a handle and the operations that could own it (AddRecord,
  GetPreviewRecord) do not know their handle yet: with one such operation in flight it is that one's; with
  several it is held (bounded, counted as ``paired``) until an acknowledgement names its handle.
- An acknowledgement that expects a user event waits for it up to ``grace`` seconds (0.2 s), only while
  this connection delivers them (as the Correlator does for DataEnd); an Error or an unexpected
  notificationType does not wait.  A finished operation lingers (the last 64), so that a user event that
  arrives even later is still attached.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from .. import protocol
from ..errors import InvalidParameterError, RecordOperationError
from ..results import Event, OperationResult

__all__ = ["ACKNOWLEDGEMENTS", "USER_EVENTS", "OperationWaiters", "Waiter"]

#: operationName -> notificationType of its acknowledgement
ACKNOWLEDGEMENTS: dict[str, str] = {
    "StartPreviewSession": "PreviewSessionStarted",
    "EndPreviewSession": "PreviewSessionEnded",
    "GetPreviewRecord": "PreviewRecord",
    "CompleteRecord": "RecordProcessedAcknowledge",
    "UpdateRecord": "UpdateCallCompletionStatsAcknowledge",
    "RejectRecord": "RecordRejectAcknowledge",
    "RescheduleRecord": "ScheduledRecordRescheduleAcknowledge",
    "DoNotCallRecord": "DoNotCallAcknowledge",
    "AddRecord": "AddRecordAcknowledge",
}
#: operationName -> GSW_USER_EVENT of the DeviceUserEventMessage that follows, when it is not the ack's name
USER_EVENTS: dict[str, str] = {
    "StartPreviewSession": "PreviewDialingModeStartAcknowledge",
    "EndPreviewSession": "PreviewDialingModeOverAcknowledge",
}
_LINGER = 64


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and (a == b or str(a) == str(b))


@dataclass
class Waiter:
    """One record operation waiting for its acknowledgement."""

    key: str
    operation: str
    device_id: str | None
    record_handle: int | None
    campaign_name: str
    phone_number: str | None
    result: OperationResult
    future: asyncio.Future[OperationResult]
    ended: bool = False
    errored: bool = False  # ended by an Error: no user event follows one
    timer: asyncio.TimerHandle | None = None
    user_events: set[str] = field(default_factory=set)
    #: the CometD session epoch the POST was answered under (None until answered)
    epoch: int | None = None

    def handle(self) -> Any:
        """The record handle the user event names: the request's, or the one the acknowledgement gave."""
        return self.record_handle if self.record_handle is not None else self.result.record_handle

    def matches(self, data: dict[str, Any], user_data: dict[str, Any]) -> bool:
        if self.errored:
            return False
        device = data.get("deviceId")
        if self.device_id is not None and device is not None and str(device) != self.device_id:
            return False
        if user_data.get("GSW_USER_EVENT") not in self.user_events:
            return False
        if self.handle() is not None:
            return _same(user_data.get("GSW_RECORD_HANDLE"), self.handle())
        if self.phone_number is not None:
            return _same(user_data.get("GSW_PHONE"), self.phone_number)
        return _same(user_data.get("GSW_CAMPAIGN_NAME"), self.campaign_name)


class OperationWaiters:
    """Waiters keyed by referenceId (see the module doc).  Used from the client's loop thread only."""

    def __init__(self, grace: float = 0.2) -> None:
        self.grace = grace
        #: this connection delivers the user events that follow acknowledgements (latched as described)
        self.user_events_seen = True
        self._waiting: dict[str, Waiter] = {}
        self._linger: OrderedDict[str, Waiter] = OrderedDict()
        self._held: deque[Event] = deque(maxlen=_LINGER)

    def __len__(self) -> int:
        return len(self._waiting)

    def register(self, waiter: Waiter) -> None:
        """:raises InvalidParameterError: an operation with the same referenceId is in flight."""
        if waiter.key in self._waiting:
            raise InvalidParameterError("reference_id", waiter.key, "an operation with this referenceId is in flight")
        ack = ACKNOWLEDGEMENTS[waiter.operation]
        waiter.user_events = {ack, USER_EVENTS.get(waiter.operation, ack)}
        self._linger.pop(waiter.key, None)
        self._waiting[waiter.key] = waiter

    def discard(self, waiter: Waiter) -> None:
        """Forget a finished or abandoned operation; its late user event is still attached a while."""
        if self._waiting.get(waiter.key) is waiter:
            del self._waiting[waiter.key]
            if waiter.timer is not None:
                waiter.timer.cancel()
                waiter.timer = None
            self._linger[waiter.key] = waiter
            while len(self._linger) > _LINGER:
                self._linger.popitem(last=False)

    def session_lost(self, epoch: int, error_factory: Any) -> int:
        """A new CometD session (``epoch``): every operation answered under an older one whose
        acknowledgement has not come fails with ``error_factory(waiter)`` (its outcome is unknown: a record
        operation is never resent).  Returns how many."""
        stale = [w for w in self._waiting.values()
                 if w.epoch is not None and w.epoch < epoch and not w.ended and not w.future.done()]
        for waiter in stale:
            waiter.future.set_exception(error_factory(waiter))
        return len(stale)

    def fail_all(self, error_factory: Any) -> None:
        for waiter in list(self._waiting.values()):
            if not waiter.future.done():
                waiter.future.set_exception(error_factory(waiter))

    # --- routing --------------------------------------------------------------------------------
    def claim(self, event: Event) -> str | None:
        """Take ``event`` if it belongs to an operation: returns ``"routed"`` (an outbound message) or
        ``"paired"`` (a user event), else ``None`` (the Correlator routes it)."""
        if not self._waiting and not self._linger:
            return None
        data = event.data
        if data.get("messageType") == protocol.DEVICE_USER_EVENT_MESSAGE or event.channel == protocol.CHANNEL_INTERNAL:
            return "paired" if self._user_event(event, data) else None
        ref = data.get("referenceId")
        if isinstance(ref, bool) or not isinstance(ref, (str, int, float)):
            return None
        waiter = self._waiting.get(str(ref)) or self._linger.get(str(ref))
        if waiter is None:
            return None
        waiter.result.events.append(event)
        if not waiter.ended:
            self._acknowledged(waiter, event, data)
        return "routed"

    def _acknowledged(self, waiter: Waiter, event: Event, data: dict[str, Any]) -> None:
        waiter.ended = True
        result = waiter.result
        kind = data.get("notificationType")
        result.notification_type = kind if isinstance(kind, str) else None
        result.acknowledgement = data
        result.timings.first_event = result.timings.first_event or event.received_at
        result.timings.data_end = event.received_at
        record = data.get("record")
        if isinstance(record, dict):
            result.record = record
            if result.record_handle is None and record.get("recordHandle") is not None:
                result.record_handle = record.get("recordHandle")
        if kind == protocol.ERROR_NOTIFICATION:
            waiter.errored = True
            self._settle(waiter, RecordOperationError(
                waiter.operation, data.get("errorCode"), data.get("errorMessage"), notification=data,
                operation_result=result, record_handle=waiter.record_handle))
            return
        expected = kind == ACKNOWLEDGEMENTS[waiter.operation]
        if result.user_event is None:
            self._pair_held(waiter)
        if result.user_event is not None or not expected or not self.user_events_seen or self.grace <= 0:
            self._settle(waiter)
            return
        waiter.timer = waiter.future.get_loop().call_later(self.grace, self._grace_over, waiter)

    def _user_event(self, event: Event, data: dict[str, Any]) -> bool:
        user_data = data.get("userData")
        if not isinstance(user_data, dict):
            return False
        unknown: list[Waiter] = []
        for pool in (self._waiting, self._linger):
            for waiter in pool.values():
                if waiter.result.user_event is not None or not waiter.matches(data, user_data):
                    continue
                if waiter.handle() is None and user_data.get("GSW_RECORD_HANDLE") is not None:
                    unknown.append(waiter)  # AddRecord or GetPreviewRecord before its acknowledgement
                    continue
                self._attach(waiter, event)
                return True
        if len(unknown) == 1:
            self._attach(unknown[0], event)
            return True
        if unknown:
            self._held.append(event)
            return True
        return False

    def _pair_held(self, waiter: Waiter) -> None:
        for event in self._held:
            data = event.data
            user_data = data.get("userData")
            if isinstance(user_data, dict) and waiter.matches(data, user_data):
                self._held.remove(event)
                self._attach(waiter, event)
                return

    def _attach(self, waiter: Waiter, event: Event) -> None:
        result = waiter.result
        result.user_event = event.data
        result.events.append(event)
        if result.timings.first_event is None:
            result.timings.first_event = event.received_at
        self.user_events_seen = True
        if waiter.ended and not waiter.future.done():
            self._settle(waiter)

    def _grace_over(self, waiter: Waiter) -> None:
        waiter.timer = None
        if waiter.result.user_event is None:
            self.user_events_seen = False  # not delivered in time: stop waiting for them on this connection
        self._settle(waiter)

    @staticmethod
    def _settle(waiter: Waiter, error: BaseException | None = None) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        if waiter.future.done():
            return
        if error is not None:
            waiter.future.set_exception(error)
        else:
            waiter.future.set_result(waiter.result)
