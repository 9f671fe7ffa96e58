"""Routing CometD notifications to the GetChainedRecord calls waiting for them.

- A :class:`Call` is registered under its referenceId *before* the POST is sent (notifications can beat
  the HTTP answer).  The key is ``str(referenceId)``: the server echoes the JSON type it was given, and
  two calls in flight cannot share a key.
- ``/v2/me/outbound`` messages are routed by ``data.referenceId``: ``ChainedRecord`` appends its
  ``record`` (an identical duplicate is dropped from ``records`` but kept in ``events``),
  ``ChainedRecordsDataEnd`` completes the call, ``Error`` fails it with :class:`ChainedRecordError`.
  Records are sorted by ``userData.chain_n`` when the call completes (arrival order breaks ties; records
  without a usable chain_n go last), so a reordered delivery still gives chain order.
- ``/me/internal`` ``DeviceUserEventMessage`` carries no referenceId (contract section 5).  Every routed
  outbound message leaves an *expectation* ``(deviceId, recordHandle, chainId, notificationType)``; a
  user event is paired with the oldest expectation whose deviceId and ``GSW_USER_EVENT`` match and whose
  ``GSW_RECORD_HANDLE`` or ``GSW_CHAIN_ID`` matches.  A user event that arrives before its outbound
  message is held (bounded) and paired when the expectation appears.
- Reorder: when DataEnd arrives for a call whose records look incomplete (none yet, a gap in chain_n,
  or records that arrived out of chain_n order) the call waits up to ``settle`` seconds (0.3 s) more
  for late records, and completes as soon as the gap is filled.  A *last* record delivered after
  DataEnd with nothing else out of order cannot be detected: GWS sends DataEnd last.
- Calls are resolved at the end of the received batch, so a DataEnd and its user event delivered in the
  same long-poll answer both land in the result before the caller resumes.  When DataEnd's user event
  (the one carrying the server's metrics for the DataEnd) is not in that batch, the call waits up to
  ``end_event_grace`` seconds (0.2 s) for it, but only while this connection delivers those events (a
  wait that runs out turns the waiting off, the next such event paired turns it on again), so a server
  that never sends them costs one grace, once.  A finished call lingers (the last 256) so that a user event arriving even
  later is still appended to its result.
- Anything that matches no call stays in the client's event log and is counted in :attr:`unmatched`.
- Malformed messages (no channel; ``data`` missing or not an object; a ``notificationType`` or
  ``referenceId`` of the wrong JSON type; a ChainedRecord whose ``record``, or a user event whose
  ``userData``, is not an object) are routed nowhere: they stay in the event log and are counted in
  ``counts["malformed"]``.  Every message fed lands in exactly one of ``counts``' buckets ``meta``,
  ``malformed``, ``routed`` (outbound message of a call), ``paired`` (user event of a call) and
  ``unmatched`` (mirrors :attr:`unmatched`), so they always add up to ``counts["fed"]``;
  ``duplicate`` and ``unknown_type`` further describe routed messages.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from ._operation_waiters import OperationWaiters
from .errors import ChainedRecordError, InvalidParameterError
from .results import ChainedRecordResult, Event

__all__ = ["Call", "Correlator"]

LOGGER = logging.getLogger(__name__)
_LINGER = 256
_ORPHANS = 1000
_KNOWN_KINDS = (protocol.CHAINED_RECORD, protocol.CHAINED_RECORDS_DATA_END, protocol.ERROR_NOTIFICATION)


def _device_id(device_path: str | None) -> str | None:
    if not isinstance(device_path, str):
        return None
    return device_path.rsplit("/", 1)[-1] or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _same(a: Any, b: Any) -> bool:
    """Loose equality for ids the server may echo as int or str."""
    if a is None or b is None:
        return False
    return a == b or str(a) == str(b)


@dataclass
class _Expectation:
    seq: int
    call: Call
    device_id: str | None
    record_handle: Any
    chain_id: Any
    user_event: str | None

    def matches(self, device_id: Any, handle: Any, chain_id: Any, user_event: Any) -> bool:
        if self.device_id is not None and device_id is not None and str(device_id) != self.device_id:
            return False
        if self.user_event is not None and user_event is not None and user_event != self.user_event:
            return False
        return _same(handle, self.record_handle) or _same(chain_id, self.chain_id)


@dataclass
class Call:
    """One GetChainedRecord call waiting for its notifications."""

    key: str
    record_handle: int
    device_id: str | None
    result: ChainedRecordResult
    future: asyncio.Future[ChainedRecordResult]
    done: bool = False
    error: BaseException | None = None
    out_of_order: bool = False
    settling: asyncio.TimerHandle | None = None
    awaiting_end_event: bool = False
    expectations: list[_Expectation] = field(default_factory=list)


def _chain_n(record: dict[str, Any]) -> int | None:
    user_data = record.get("userData")
    if not isinstance(user_data, dict):
        return None
    value = user_data.get("chain_n")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Correlator:
    """Waiters keyed by referenceId plus user-event pairing.  Used from the client's loop thread only."""

    def __init__(self, settle: float = 0.3, end_event_grace: float = 0.2) -> None:
        self.settle = settle
        self.end_event_grace = end_event_grace
        #: this connection delivers DataEnd's user event (see the module doc); the contract says it does
        self.end_events_seen = True
        self._calls: dict[str, Call] = {}
        self._linger: OrderedDict[str, Call] = OrderedDict()
        self._expectations: list[_Expectation] = []
        self._orphans: deque[Event] = deque(maxlen=_ORPHANS)
        self._seq = itertools.count()
        self._pending: list[Call] = []
        #: the record operations' waiters, offered every message first (None: GetChainedRecord only)
        self.operations: OperationWaiters | None = OperationWaiters()
        #: latched when this connection showed a reordered delivery (a record out of chain_n order, a user
        #: event before its outbound message, a message after its call's DataEnd): from then on every
        #: DataEnd waits ``settle`` seconds for late records, because a missing record is not always
        #: visible in chain_n (numbering need not start at 0)
        self.reorder_seen = False
        #: non-/meta messages that matched no call (they are still in the event log)
        self.unmatched = 0
        #: how the messages fed were classified (see the module doc)
        self.counts: dict[str, int] = dict.fromkeys(
            ("fed", "meta", "malformed", "routed", "paired", "unmatched", "duplicate", "unknown_type"), 0)

    def __len__(self) -> int:
        return len(self._calls)

    def register(self, reference_id: str | int, record_handle: int, device_path: str,
                 result: ChainedRecordResult, future: asyncio.Future[ChainedRecordResult]) -> Call:
        """:raises InvalidParameterError: a call with the same referenceId is already in flight."""
        key = str(reference_id)
        if key in self._calls:
            raise InvalidParameterError("reference_id", reference_id, "a call with this referenceId is in flight")
        self._linger.pop(key, None)
        call = Call(key, record_handle, _device_id(device_path), result, future)
        self._calls[key] = call
        return call

    def discard(self, call: Call) -> None:
        """Forget a call (finished, failed or abandoned); its late user events are still paired a while."""
        if self._calls.get(call.key) is call:
            del self._calls[call.key]
            self._linger[call.key] = call
            while len(self._linger) > _LINGER:
                _, old = self._linger.popitem(last=False)
                self._drop_expectations(old)

    def fail_all(self, error_factory: Any) -> None:
        """Fail every call in flight (the client is closing)."""
        for call in list(self._calls.values()):
            if not call.future.done():
                call.future.set_exception(error_factory(call))

    # --- routing --------------------------------------------------------------------------------
    def feed(self, events: list[Event]) -> None:
        """Route one received batch, then resolve the calls it finished."""
        counts = self.counts
        for event in events:
            counts["fed"] += 1
            channel = event.channel
            if channel is not None and channel.startswith("/meta/"):
                counts["meta"] += 1
                continue
            data = event.message.get("data") if isinstance(event.message, dict) else None
            if channel is None or not isinstance(data, dict):
                self._malformed(event, "no channel" if channel is None else "data is not a JSON object")
                continue
            claimed = self.operations.claim(event) if self.operations is not None else None
            if claimed is not None:  # a record operation's message (see gwsnb/_operation_waiters.py)
                counts[claimed] += 1
                continue
            try:
                if data.get("messageType") == protocol.DEVICE_USER_EVENT_MESSAGE or (
                        channel == protocol.CHANNEL_INTERNAL and "referenceId" not in data):
                    self._user_event(event)
                else:
                    self._outbound(event)
            except Exception:  # a message shape nobody foresaw must not stop the routing of the others
                LOGGER.exception("could not route a notification; kept in the event log only")
                self._malformed(event, "unroutable")
            counts["unmatched"] = self.unmatched
        pending, self._pending = self._pending, []
        for call in pending:
            try:
                self._resolve(call)
            except Exception:
                LOGGER.exception("could not resolve GetChainedRecord for handle %s", call.record_handle)

    def _malformed(self, event: Event, why: str) -> None:
        self.counts["malformed"] += 1
        LOGGER.debug("malformed notification (%s) on %s; kept in the event log only", why, event.channel)

    def _outbound(self, event: Event) -> None:
        data = event.data
        ref = data.get("referenceId")
        kind = data.get("notificationType")
        if (ref is not None and (isinstance(ref, bool) or not isinstance(ref, (str, int, float)))) or (
                kind is not None and not isinstance(kind, str)) or (
                kind == protocol.CHAINED_RECORD and not isinstance(data.get("record"), dict)):
            self._malformed(event, "wrong JSON types")
            return
        call = self._calls.get(str(ref)) if ref is not None else None
        if call is None:
            if ref is not None and str(ref) in self._linger:
                self.reorder_seen = True  # a message after its call ended
            self.unmatched += 1
            return
        if call.done and call.settling is None:
            self.reorder_seen = True
        self.counts["routed"] += 1
        if kind not in _KNOWN_KINDS:
            self.counts["unknown_type"] += 1
        result = call.result
        result.events.append(event)
        if result.timings.first_event is None:
            result.timings.first_event = event.received_at
        record = _dict(data.get("record"))
        user_data = _dict(record.get("userData"))
        if kind == protocol.CHAINED_RECORD and record in result.records:
            self.counts["duplicate"] += 1
        if not call.done or (call.settling is not None and kind == protocol.CHAINED_RECORD):
            if kind == protocol.CHAINED_RECORD:
                if record and record not in result.records:
                    chain_n = _chain_n(record)
                    if chain_n is not None and any((_chain_n(r) or 0) > chain_n for r in result.records):
                        call.out_of_order = True
                        self.reorder_seen = True
                    result.records.append(record)
                    if call.settling is not None and not self._incomplete(call):
                        self._pending.append(call)
            elif kind == protocol.CHAINED_RECORDS_DATA_END:
                result.end = data
                result.timings.data_end = event.received_at
                call.done = True
                if self._incomplete(call) and self.settle > 0:
                    loop = call.future.get_loop()
                    call.settling = loop.call_later(self.settle, self._resolve, call)
                else:
                    self._pending.append(call)
            elif kind == protocol.ERROR_NOTIFICATION:
                call.done = True
                call.error = ChainedRecordError(
                    data.get("errorCode"), data.get("errorMessage"), notification=data,
                    result=result, record_handle=call.record_handle)
                self._pending.append(call)
        handle = record.get("recordHandle", user_data.get("GSW_RECORD_HANDLE"))
        if handle is None and kind != protocol.CHAINED_RECORD:
            handle = call.record_handle
        chain_id = user_data.get("chain_id", user_data.get("GSW_CHAIN_ID"))
        device_id = _device_id(record.get("devicePath")) or call.device_id
        expectation = _Expectation(next(self._seq), call, device_id, handle, chain_id,
                                   kind if isinstance(kind, str) else None)
        if not self._pair_orphan(expectation):
            self._expectations.append(expectation)
            call.expectations.append(expectation)

    def _user_event(self, event: Event) -> None:
        data = event.data
        if not isinstance(data.get("userData"), dict):
            self._malformed(event, "userData is not a JSON object")
            return
        user_data = _dict(data.get("userData"))
        key = (data.get("deviceId"), user_data.get("GSW_RECORD_HANDLE"), user_data.get("GSW_CHAIN_ID"),
               user_data.get("GSW_USER_EVENT"))
        for expectation in self._expectations:
            if expectation.matches(*key):
                self._attach(expectation, event)
                self.counts["paired"] += 1
                return
        self._orphans.append(event)
        self.unmatched += 1

    def _pair_orphan(self, expectation: _Expectation) -> bool:
        for orphan in self._orphans:
            data = orphan.data
            user_data = _dict(data.get("userData"))
            if expectation.matches(data.get("deviceId"), user_data.get("GSW_RECORD_HANDLE"),
                                   user_data.get("GSW_CHAIN_ID"), user_data.get("GSW_USER_EVENT")):
                self._orphans.remove(orphan)
                self.reorder_seen = True  # the user event came before its outbound message
                self.unmatched -= 1
                self.counts["paired"] += 1
                result = expectation.call.result
                result.events.append(orphan)
                result.user_events.append(orphan)
                return True
        return False

    def _attach(self, expectation: _Expectation, event: Event) -> None:
        self._expectations.remove(expectation)
        call = expectation.call
        call.expectations.remove(expectation)
        call.result.events.append(event)
        call.result.user_events.append(event)
        if call.result.timings.first_event is None:
            call.result.timings.first_event = event.received_at
        if expectation.user_event == protocol.CHAINED_RECORDS_DATA_END:
            self.end_events_seen = True
            if call.awaiting_end_event:
                self._pending.append(call)

    def _drop_expectations(self, call: Call) -> None:
        for expectation in call.expectations:
            self._expectations.remove(expectation)
        call.expectations.clear()

    def _record_event_pending(self, call: Call) -> bool:
        """A held ChainedRecord user event of this call: its outbound record has not arrived yet."""
        for orphan in self._orphans:
            data = orphan.data
            user_data = _dict(data.get("userData"))
            if user_data.get("GSW_USER_EVENT") != protocol.CHAINED_RECORD:
                continue
            device = data.get("deviceId")
            if call.device_id is not None and device is not None and str(device) != call.device_id:
                continue
            handles = {str(r.get("recordHandle")) for r in call.result.records} | {str(call.record_handle)}
            chains = {str(_dict(r.get("userData")).get("chain_id")) for r in call.result.records}
            if str(user_data.get("GSW_RECORD_HANDLE")) in handles or str(user_data.get("GSW_CHAIN_ID")) in chains:
                return True
        return False

    def _incomplete(self, call: Call) -> bool:
        numbers = [n for n in (_chain_n(r) for r in call.result.records) if n is not None]
        if self.reorder_seen or not call.result.records:
            return True
        if self._orphans and self._record_event_pending(call):
            self.reorder_seen = True
            return True
        if call.out_of_order:
            return True
        return bool(numbers) and max(numbers) - min(numbers) + 1 != len(set(numbers))

    def _resolve(self, call: Call) -> None:
        if call.settling is not None:
            call.settling.cancel()
            call.settling = None
        records = call.result.records
        order = {id(r): i for i, r in enumerate(records)}
        records.sort(key=lambda r: (_chain_n(r) is None, _chain_n(r) or 0, order[id(r)]))
        if call.future.done():
            return
        if call.error is not None:
            call.future.set_exception(call.error)
            return
        if (not call.awaiting_end_event and self.end_events_seen and self.end_event_grace > 0
                and self._end_event_pending(call)):
            call.awaiting_end_event = True
            call.settling = call.future.get_loop().call_later(self.end_event_grace, self._end_event_grace_over,
                                                              call)
            return
        call.future.set_result(call.result)

    @staticmethod
    def _end_event_pending(call: Call) -> bool:
        return any(e.user_event == protocol.CHAINED_RECORDS_DATA_END for e in call.expectations)

    def _end_event_grace_over(self, call: Call) -> None:
        call.settling = None
        if self._end_event_pending(call):  # not delivered in time: stop waiting for them on this connection
            self.end_events_seen = False
        self._resolve(call)
