"""Routing CometD notifications to the GetChainedRecord calls waiting for them.

- A :class:`Call` is registered under its referenceId *before* the POST is sent (notifications can beat
  the HTTP answer).  The key is ``str(referenceId)``: the server echoes the JSON type it was given, and
  two calls in flight cannot share a key.
- ``/v2/me/outbound`` messages are routed by ``data.referenceId``: ``ChainedRecord`` appends its
  ``record`` (an identical duplicate is dropped from ``records`` but kept in ``events``),
  ``ChainedRecordsDataEnd`` completes the call, ``Error`` fails it with :class:`ChainedRecordError`.
  Records are sorted by ``userData.chain_n`` when the call completes (arrival order breaks ties; records
  without a usable chain_n go last), so a reordered delivery still gives chain order.
- ``/me/internal`` ``DeviceUserEventMessage`` carries no referenceId (see docs/notifications.md).  Every
  routed outbound message leaves an *expectation* ``(deviceId, recordHandle, chainId, notificationType)``;
  a user event is paired with the oldest expectation whose deviceId and ``GSW_USER_EVENT`` match and whose
  ``GSW_RECORD_HANDLE`` or ``GSW_CHAIN_ID`` matches.  A user event that arrives before its outbound
  message is held (bounded, the oldest dropped) and paired when the expectation appears.  Expectations and
  held user events are indexed by record handle and by chain id, so pairing costs the same whatever the
  number of calls in flight or events held (no scan per message).
- Reorder: when DataEnd arrives for a call whose records look incomplete (none yet, a gap in chain_n,
  or records that arrived out of chain_n order) the call waits up to ``settle`` seconds (0.3 s) more
  for late records.  It completes early only when a late record makes it look complete without proving
  a reordered delivery (its first record after DataEnd, say); a record that fills a gap arrived after a
  higher chain_n, which latches ``reorder_seen``, so that call waits the whole ``settle``.  A *last*
  record delivered after DataEnd with nothing else out of order cannot be detected: GWS sends DataEnd
  last.
- Calls are resolved at the end of the received batch, so a DataEnd and its user event delivered in the
  same long-poll answer both land in the result before the caller resumes.  When DataEnd's user event
  (the one carrying the server's metrics for the DataEnd) is not in that batch, the call waits up to
  ``end_event_grace`` seconds (0.2 s) for it, but only while this connection delivers those events (a
  wait that runs out turns the waiting off, the next such event paired turns it on again), so a server
  that never sends them costs one grace, once.  A finished call lingers (the last 256) so that a user
  event arriving even later is still appended to its result.
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
import functools
import itertools
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .. import protocol
from ..errors import ChainedRecordError, InvalidParameterError
from ..results import ChainedRecordResult, Event
from .operation_waiters import OperationWaiters

__all__ = ["Call", "Correlator", "Resend"]

LOGGER = logging.getLogger(__name__)
_LINGER = 256
_ORPHANS = 1000
_KNOWN_KINDS = (protocol.CHAINED_RECORD, protocol.CHAINED_RECORDS_DATA_END, protocol.ERROR_NOTIFICATION)
_META = protocol.META_PREFIX

Key = tuple[str, str]
T = TypeVar("T", bound="_Keyed")


class Resend(Exception):
    """Set on a call's future when its answer can no longer arrive (a new CometD session): the caller
    sends the request again under a new referenceId.  Never leaves the client."""


def _device_id(device_path: str | None) -> str | None:
    if not isinstance(device_path, str):
        return None
    return device_path.rsplit("/", 1)[-1] or None


@functools.lru_cache(maxsize=64)
def _cached_device_id(device_path: str) -> str | None:
    """:func:`_device_id` of a text path, remembered: every record of a session names the same few devices."""
    return _device_id(device_path)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _keys(handle: Any, chain_id: Any) -> tuple[Key, ...]:
    """Index keys of a record handle and a chain id; ids compare as strings (int or str on the wire)."""
    if handle is None:
        return () if chain_id is None else (("c", str(chain_id)),)
    if chain_id is None:
        return (("h", str(handle)),)
    return ("h", str(handle)), ("c", str(chain_id))


@dataclass(eq=False, slots=True)
class _Keyed:
    seq: int
    device_id: str | None
    user_event: str | None
    keys: tuple[Key, ...]

    def compatible(self, device_id: str | None, user_event: str | None) -> bool:
        """Same device and user event type, where both sides name one."""
        if self.device_id is not None and device_id is not None and device_id != self.device_id:
            return False
        return self.user_event is None or user_event is None or user_event == self.user_event


@dataclass(eq=False, slots=True)
class _Expectation(_Keyed):
    """A user event an outbound message of ``call`` is expected to be followed by."""

    call: Call


@dataclass(eq=False, slots=True)
class _Held(_Keyed):
    """A user event that matched no expectation (yet)."""

    event: Event


class _Index(Generic[T]):
    """Items by key (a record handle or a chain id), each bucket in arrival order."""

    def __init__(self) -> None:
        self._buckets: dict[Key, list[T]] = {}

    def add(self, item: T) -> None:
        buckets = self._buckets
        for key in item.keys:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [item]
            else:
                bucket.append(item)

    def remove(self, item: T) -> None:
        for key in item.keys:
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            bucket.remove(item)
            if not bucket:
                del self._buckets[key]

    def oldest(self, keys: Iterable[Key], device_id: str | None, user_event: str | None) -> T | None:
        """The oldest item under any of ``keys`` compatible with ``device_id`` and ``user_event``."""
        best: T | None = None
        buckets = self._buckets
        for key in keys:
            bucket = buckets.get(key)
            if not bucket:
                continue
            for item in bucket:
                # item.compatible(device_id, user_event), inlined: once per message and bucket entry
                if item.device_id is not None and device_id is not None and device_id != item.device_id:
                    continue
                if item.user_event is not None and user_event is not None and user_event != item.user_event:
                    continue
                if best is None or item.seq < best.seq:
                    best = item
                break  # later items of a bucket are younger
        return best

    def any_exact(self, keys: Iterable[Key], device_id: str | None, user_event: str) -> bool:
        """Whether an item under any of ``keys`` names exactly ``user_event`` and a compatible device."""
        return any(item.user_event == user_event and item.compatible(device_id, user_event)
                   for key in keys for item in self._buckets.get(key, ()))

    def __len__(self) -> int:
        return len({id(item) for bucket in self._buckets.values() for item in bucket})


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
    #: the highest chain_n of the records so far (a record without one counts as 0)
    max_chain_n: int | None = None
    #: the CometD session epoch the POST was answered under (None until answered; see session_lost)
    epoch: int | None = None
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


def _well_typed(data: dict[str, Any]) -> bool:
    """referenceId a string or number, notificationType a string, a ChainedRecord's record an object."""
    return _well_typed_fields(data.get("referenceId"), data.get("notificationType"), data.get("record"))


def _well_typed_fields(ref: Any, kind: Any, record: Any) -> bool:
    """:func:`_well_typed` of a message's referenceId, notificationType and record."""
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, (str, int, float))):
        return False
    if kind is not None and not isinstance(kind, str):
        return False
    return kind != protocol.CHAINED_RECORD or isinstance(record, dict)


def _user_event_fields(data: dict[str, Any]) -> tuple[str | None, str | None, tuple[Key, ...]]:
    """``(deviceId, GSW_USER_EVENT, keys)`` of a user event."""
    user_data = _dict(data.get("userData"))
    device = data.get("deviceId")
    kind = user_data.get("GSW_USER_EVENT")
    return (None if device is None else str(device), kind if isinstance(kind, str) else None,
            _keys(user_data.get("GSW_RECORD_HANDLE"), user_data.get("GSW_CHAIN_ID")))


class Correlator:
    """Waiters keyed by referenceId plus user-event pairing.  Used from the client's loop thread only."""

    def __init__(self, settle: float = 0.3, end_event_grace: float = 0.2) -> None:
        self.settle = settle
        self.end_event_grace = end_event_grace
        #: this connection delivers DataEnd's user event (see the module doc); the contract says it does
        self.end_events_seen = True
        self._calls: dict[str, Call] = {}
        self._linger: OrderedDict[str, Call] = OrderedDict()
        self._expectations: _Index[_Expectation] = _Index()
        self._held: _Index[_Held] = _Index()
        self._held_order: OrderedDict[int, _Held] = OrderedDict()
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

    @property
    def held(self) -> int:
        """User events held because no outbound message announced them (yet)."""
        return len(self._held_order)

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

    def abandon(self, call: Call) -> None:
        """Forget a call that is sent again under a new referenceId: a late answer to this one is counted
        as unmatched (it does not latch ``reorder_seen`` as a message after a finished call does)."""
        if self._calls.get(call.key) is call:
            del self._calls[call.key]
        self._drop_expectations(call)
        if call.settling is not None:
            call.settling.cancel()
            call.settling = None

    def session_lost(self, epoch: int) -> int:
        """A new CometD session (``epoch``) is subscribed: every call answered under an older one and not
        ended yet can no longer get its notifications; its future gets :class:`Resend`.  Returns how many."""
        stale = [call for call in self._calls.values()
                 if call.epoch is not None and call.epoch < epoch and not call.done and not call.future.done()]
        for call in stale:
            call.future.set_exception(Resend())
        return len(stale)

    def fail_all(self, error_factory: Any) -> None:
        """Fail every call in flight (the client is closing)."""
        for call in list(self._calls.values()):
            if not call.future.done():
                call.future.set_exception(error_factory(call))

    # --- routing --------------------------------------------------------------------------------
    def feed(self, events: list[Event]) -> None:
        """Route one received batch, then resolve the calls it finished."""
        counts = self.counts
        counts["fed"] += len(events)
        meta = 0
        route = self._route
        for event in events:
            channel = event.message.get("channel")  # Event.channel, without a property call per message
            if not isinstance(channel, str):
                channel = None
            elif channel.startswith(_META):
                meta += 1
                continue
            route(event, channel)
        counts["meta"] += meta
        counts["unmatched"] = self.unmatched
        pending, self._pending = self._pending, []
        for call in pending:
            try:
                self._resolve(call)
            except Exception:
                LOGGER.exception("could not resolve GetChainedRecord for handle %s", call.record_handle)

    def _route(self, event: Event, channel: str | None) -> None:
        data = event.message.get("data") if isinstance(event.message, dict) else None
        if channel is None or not isinstance(data, dict):
            self._malformed(event, "no channel" if channel is None else "data is not a JSON object")
            return
        claimed = self.operations.claim(event) if self.operations is not None else None
        if claimed is not None:  # a record operation's message (see gwsnb/_engine/operation_waiters.py)
            self.counts[claimed] += 1
            return
        try:
            if data.get("messageType") == protocol.DEVICE_USER_EVENT_MESSAGE or (
                    channel == protocol.CHANNEL_INTERNAL and "referenceId" not in data):
                self._user_event(event, data)
            else:
                self._outbound(event, data)
        except Exception:  # a message shape nobody foresaw must not stop the routing of the others
            LOGGER.exception("could not route a notification; kept in the event log only")
            self._malformed(event, "unroutable")

    def _malformed(self, event: Event, why: str) -> None:
        self.counts["malformed"] += 1
        LOGGER.debug("malformed notification (%s) on %s; kept in the event log only", why, event.channel)

    def _outbound(self, event: Event, data: dict[str, Any]) -> None:
        ref = data.get("referenceId")
        kind = data.get("notificationType")
        record = data.get("record")
        if not _well_typed_fields(ref, kind, record):
            self._malformed(event, "wrong JSON types")
            return
        call = self._calls.get(ref if type(ref) is str else str(ref)) if ref is not None else None
        if call is None:
            ended = self._linger.get(str(ref)) if ref is not None else None
            if ended is not None and ended.done:
                # a message after its call's DataEnd (or Error). A call given up before its end (cancelled,
                # timed out) gets its remaining messages late by nature: they prove no reordering
                self.reorder_seen = True
            self.unmatched += 1
            return
        if not isinstance(record, dict):
            record = {}
        self._apply(call, event, data, kind, record)
        self._expect(call, kind, record)

    def _apply(self, call: Call, event: Event, data: dict[str, Any], kind: Any, record: dict[str, Any]) -> None:
        """Add the message to its call's result; a ChainedRecord's record, DataEnd's end, Error's error."""
        if call.done and call.settling is None:
            self.reorder_seen = True
        self.counts["routed"] += 1
        if kind not in _KNOWN_KINDS:
            self.counts["unknown_type"] += 1
        result = call.result
        result.events.append(event)
        if result.timings.first_event is None:
            result.timings.first_event = event.received_at
        if kind == protocol.CHAINED_RECORD:
            if record in result.records:
                self.counts["duplicate"] += 1
            elif not call.done or call.settling is not None:
                self._add_record(call, record)
        elif call.done:
            return
        elif kind == protocol.CHAINED_RECORDS_DATA_END:
            self._data_end(call, event, data)
        elif kind == protocol.ERROR_NOTIFICATION:
            call.done = True
            call.error = ChainedRecordError(
                data.get("errorCode"), data.get("errorMessage"), notification=data,
                result=result, record_handle=call.record_handle)
            self._pending.append(call)

    def _add_record(self, call: Call, record: dict[str, Any]) -> None:
        if not record:
            return
        chain_n = _chain_n(record)
        if chain_n is not None and call.max_chain_n is not None and call.max_chain_n > chain_n:
            call.out_of_order = True
            self.reorder_seen = True
        call.max_chain_n = max(call.max_chain_n or 0, chain_n or 0)
        call.result.records.append(record)
        if call.settling is not None and not self._incomplete(call):
            self._pending.append(call)

    def _data_end(self, call: Call, event: Event, data: dict[str, Any]) -> None:
        result = call.result
        result.end = data
        result.timings.data_end = event.received_at
        call.done = True
        if self._incomplete(call) and self.settle > 0:
            call.settling = call.future.get_loop().call_later(self.settle, self._resolve, call)
        else:
            self._pending.append(call)

    def _expect(self, call: Call, kind: Any, record: dict[str, Any]) -> None:
        """Leave the expectation of the user event this outbound message announces (or pair a held one)."""
        user_data = record.get("userData")
        if not isinstance(user_data, dict):
            user_data = {}
        handle = record.get("recordHandle", user_data.get("GSW_RECORD_HANDLE"))
        if handle is None and kind != protocol.CHAINED_RECORD:
            handle = call.record_handle
        chain_id = user_data.get("chain_id", user_data.get("GSW_CHAIN_ID"))
        path = record.get("devicePath")
        device_id = (_cached_device_id(path) if type(path) is str else _device_id(path)) or call.device_id
        expectation = _Expectation(next(self._seq), device_id, kind if isinstance(kind, str) else None,
                                   _keys(handle, chain_id), call)
        held = self._held.oldest(expectation.keys, device_id, expectation.user_event) if self._held_order else None
        if held is None:
            self._expectations.add(expectation)
            call.expectations.append(expectation)
            return
        self._unhold(held)
        self.reorder_seen = True  # the user event came before its outbound message
        self.unmatched -= 1
        self.counts["paired"] += 1
        result = call.result
        result.events.append(held.event)
        result.user_events.append(held.event)

    def _user_event(self, event: Event, data: dict[str, Any]) -> None:
        user_data = data.get("userData")
        if not isinstance(user_data, dict):
            self._malformed(event, "userData is not a JSON object")
            return
        # _user_event_fields(data), inlined: once per user event
        device = data.get("deviceId")
        device_id = None if device is None else device if type(device) is str else str(device)
        kind = user_data.get("GSW_USER_EVENT")
        if not isinstance(kind, str):
            kind = None
        keys = _keys(user_data.get("GSW_RECORD_HANDLE"), user_data.get("GSW_CHAIN_ID"))
        expectation = self._expectations.oldest(keys, device_id, kind)
        if expectation is not None:
            self._attach(expectation, event)
            self.counts["paired"] += 1
            return
        self._hold(_Held(next(self._seq), device_id, kind, keys, event))
        self.unmatched += 1

    def _hold(self, held: _Held) -> None:
        self._held.add(held)
        self._held_order[held.seq] = held
        if len(self._held_order) > _ORPHANS:  # bounded: the oldest is forgotten (still in the event log)
            _, oldest = self._held_order.popitem(last=False)
            self._held.remove(oldest)

    def _unhold(self, held: _Held) -> None:
        self._held.remove(held)
        del self._held_order[held.seq]

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
        records = call.result.records
        keys = {("h", str(call.record_handle))}
        keys.update(("h", str(r.get("recordHandle"))) for r in records if r.get("recordHandle") is not None)
        keys.update(("c", str(chain)) for chain in (_dict(r.get("userData")).get("chain_id") for r in records)
                    if chain is not None)
        return self._held.any_exact(keys, call.device_id, protocol.CHAINED_RECORD)

    def _incomplete(self, call: Call) -> bool:
        records = call.result.records
        if self.reorder_seen or not records:
            return True
        if self._held_order and self._record_event_pending(call):
            self.reorder_seen = True
            return True
        if call.out_of_order:
            return True
        numbers = [n for n in (_chain_n(r) for r in records) if n is not None]
        return bool(numbers) and max(numbers) - min(numbers) + 1 != len(set(numbers))

    def _resolve(self, call: Call) -> None:
        if call.settling is not None:
            call.settling.cancel()
            call.settling = None
        records = call.result.records
        if len(records) > 1:  # chain order; records without a usable chain_n last; arrival order breaks ties
            numbers = [_chain_n(r) for r in records]
            order = sorted(range(len(records)), key=lambda i: (numbers[i] is None, numbers[i] or 0, i))
            records[:] = [records[i] for i in order]
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
