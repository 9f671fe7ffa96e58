"""The OCS side of GetChainedRecord: which notifications a call produces, in which order, with real metrics.

Sequence (docs/notifications.md#the-sequence): for each record of the chain in ``chain_n`` order an OutboundRecordMessage
``ChainedRecord`` on ``/v2/me/outbound`` followed by its DeviceUserEventMessage on ``/me/internal``;
then the ``ChainedRecordsDataEnd`` pair, shaped field by field like
``samples/get_chained_record.connect_response.json``.

Asynchronous errors ([choice]; the HTTP answer was ``statusCode 0``): an OutboundRecordMessage with
``notificationType: "Error"``, the request's ``referenceId``, ``errorCode``, ``errorMessage`` and a
``record`` naming the request. Error codes chosen by the sandbox:

====  ==========================================================================
101   record handle unknown to OCS (a finished record is still known: it is read as it is now)
102   campaign name unknown
103   applicationId is not the OCS application of the campaign
104   injected by ``Faults.error_handles``
====  ==========================================================================

Metrics (on every DeviceUserEventMessage): ``serverGenerationTimestamp`` is the wall clock (epoch ms) when
the message was built, ``nodeProcessingTimeNanos`` the ``perf_counter_ns`` time from the start of the
sandbox's OCS processing of the call (its start of service, after any wait in the capacity queue) to that
moment, ``serverProcessingTimeTotalMs`` the whole time in ms (floored) since the HTTP request reached the
handler, the queue wait included (docs/choices.md#sandbox-capacity).

With a capacity (:mod:`gwsnb.sandbox._capacity`) a call waits for a slot, is served ``service_ms`` (an
asyncio sleep), queues its notifications, then frees its slot.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import (
    CHAINED_RECORD,
    CHAINED_RECORDS_DATA_END,
    CHANNEL_INTERNAL,
    CHANNEL_OUTBOUND,
    DEVICE_USER_EVENT_MESSAGE,
    ERROR_NOTIFICATION,
    OUTBOUND_RECORD_MESSAGE,
)
from ._bayeux import BayeuxServer
from ._calling_list import CallingList
from ._capacity import CANCELLED, Capacity, RequestEntry
from ._faults import Faults
from ._records import RecordStore

__all__ = ["ChainedRecordRequest", "OcsEmulator", "ERROR_UNKNOWN_HANDLE", "ERROR_UNKNOWN_CAMPAIGN"]

ERROR_UNKNOWN_HANDLE = 101
ERROR_UNKNOWN_CAMPAIGN = 102
ERROR_WRONG_APPLICATION = 103
ERROR_INJECTED = 104

Message = dict[str, Any]
_NO_REFERENCE = object()


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


@dataclass(frozen=True)
class ChainedRecordRequest:
    """A validated GetChainedRecord request."""

    session_id: str
    handle: int
    campaign_name: str
    application_id: int
    device_path: str
    device_id: str
    reference_id: Any  # echoed with its JSON type; _NO_REFERENCE when the request had none
    received_ns: int  # perf_counter_ns when the HTTP handler got the request

    @property
    def has_reference(self) -> bool:
        return self.reference_id is not _NO_REFERENCE


class OcsEmulator:
    """Turns GetChainedRecord requests into notification sequences for the Bayeux server."""

    NO_REFERENCE = _NO_REFERENCE

    def __init__(
        self,
        calling_list: CallingList,
        bayeux: BayeuxServer,
        faults: Faults,
        *,
        campaign_name: str,
        application_id: int,
        seed: int = 1,
        capacity: Capacity | None = None,
    ) -> None:
        self.calling_list = calling_list
        #: the list as the record operations left it; GetChainedRecord reads this
        self.records = RecordStore(calling_list)
        self.bayeux = bayeux
        self.faults = faults
        self.campaign_name = campaign_name
        self.application_id = application_id
        self._random = random.Random(seed)
        self._tasks: set[asyncio.Task[None]] = set()
        #: GetChainedRecord requests accepted so far, by record handle (what a client really asked for)
        self.requested: Counter[int] = Counter()
        #: admission, queue and request log of GetChainedRecord (unlimited unless the sandbox says otherwise)
        self.capacity = capacity if capacity is not None else Capacity()

    def __repr__(self) -> str:
        return f"OcsEmulator(campaign={self.campaign_name!r}, calling_list={self.calling_list.name!r})"

    def submit(self, request: ChainedRecordRequest, entry: RequestEntry) -> None:
        """Start producing the call's notifications in the background (the HTTP answer does not wait);
        ``entry`` is its admission by :class:`~gwsnb.sandbox._capacity.Capacity` (in service or queued)."""
        self.requested[request.handle] += 1
        task = asyncio.get_running_loop().create_task(self._serve(request, entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, request: ChainedRecordRequest, entry: RequestEntry) -> None:
        """Wait for a slot, serve, queue the notifications, free the slot (one coroutine: the hot path)."""
        capacity = self.capacity
        if entry.waiter is not None:  # queued: wait for a slot (the hot path without a capacity skips the call)
            await capacity.enter(entry)
        try:
            start_ns = time.perf_counter_ns()  # the node's own processing starts here, not on receipt
            if capacity.service_s > 0:
                await asyncio.sleep(capacity.service_s)
            faults = self.faults
            bayeux = self.bayeux
            for build in self._sequence(request, start_ns):
                if faults.latency_ms > 0:
                    await asyncio.sleep(faults.latency_ms / 1000.0)
                message = build()
                for _ in range(2 if faults.duplicate else 1):
                    if isinstance(message, dict) and "channel" in message:
                        bayeux.deliver(request.session_id, message)
                    else:
                        bayeux.deliver_to_session(request.session_id, message)
                    if faults.foreign:
                        bayeux.deliver_foreign(request.session_id, message)
        except asyncio.CancelledError:
            entry.outcome = CANCELLED
            raise
        finally:
            capacity.leave(entry)

    def _sequence(self, request: ChainedRecordRequest, start_ns: int) -> list[Callable[[], Any]]:
        """The builders of the call's messages in sending order, the injected faults included."""
        builders: list[Callable[[], Any]] = list(self._plan(request, start_ns))
        faults = self.faults
        extra: list[Callable[[], Any]] = []
        if faults.malformed:
            extra.extend(_constant(m) for m in self._malformed(request))
        if faults.unknown_types:
            extra.extend(_constant(m) for m in self._unknown_types(request))
        # in the middle of the sequence, so that the call is still waiting when they arrive
        middle = len(builders) // 2
        builders[middle:middle] = extra
        if faults.reorder:
            self._random.shuffle(builders)
        return builders

    # ----- injected faults ----------------------------------------------------------------------

    def _malformed(self, req: ChainedRecordRequest) -> list[Any]:
        ref: Any = req.reference_id if req.has_reference else None
        handle = req.handle
        return [
            {"channel": CHANNEL_OUTBOUND, "data": '{"referenceId": ' + json.dumps(ref) + ', not json'},
            {"channel": CHANNEL_OUTBOUND, "data": [{"referenceId": ref, "notificationType": CHAINED_RECORD}]},
            {"channel": CHANNEL_OUTBOUND},
            {"channel": CHANNEL_OUTBOUND, "data": {"referenceId": ref, "notificationType": 7,
                                                   "messageType": OUTBOUND_RECORD_MESSAGE, "record": {}}},
            {"channel": CHANNEL_OUTBOUND, "data": {"referenceId": ref, "notificationType": CHAINED_RECORD,
                                                   "messageType": OUTBOUND_RECORD_MESSAGE, "record": "x"}},
            {"channel": CHANNEL_OUTBOUND, "data": {"referenceId": {"nested": ref},
                                                   "notificationType": CHAINED_RECORDS_DATA_END}},
            {"channel": CHANNEL_INTERNAL, "data": {"messageType": DEVICE_USER_EVENT_MESSAGE,
                                                   "deviceId": req.device_id, "userData": "GSW_RECORD_HANDLE",
                                                   "metrics": [handle]}},
            {"data": {"referenceId": ref, "notificationType": CHAINED_RECORDS_DATA_END}},
            ["not", "an", "object", ref],
        ]

    def _unknown_types(self, req: ChainedRecordRequest) -> list[Message]:
        record = {"recordHandle": req.handle, "devicePath": req.device_path, "campaignName": req.campaign_name}
        unknown = self._outbound(req, "SandboxUnknownNotification", record)
        internal: Message = {
            "channel": CHANNEL_INTERNAL,
            "data": {"messageType": "SandboxUnknownMessage", "deviceId": req.device_id,
                     "userData": {"GSW_RECORD_HANDLE": req.handle, "GSW_USER_EVENT": "SandboxUnknownEvent"}},
        }
        return [unknown, internal]

    # ----- what a call produces -----------------------------------------------------------------

    def _plan(self, req: ChainedRecordRequest, start_ns: int) -> list[Callable[[], Message]]:
        error = self._error_for(req)
        if error is not None:
            code, text = error
            return [lambda: self._error_message(req, code, text)]
        rows = self.records.chain(req.handle)
        assert rows is not None  # _error_for checked it
        builders: list[Callable[[], Message]] = []
        user_events = not self.faults.drop_user_events
        for row in rows:
            user_data = self._record_user_data(row)
            builders.append(functools.partial(self._chained_record, req, user_data))
            if user_events:
                builders.append(functools.partial(self._user_event, req, user_data, start_ns))
        if not self.faults.drops_data_end(req.handle):
            chain_id = rows[0].get("chain_id")
            end_ud: Message = {
                "GSW_APPLICATION_ID": req.application_id,
                "GSW_RECORD_HANDLE": req.handle,
                "GSW_USER_EVENT": CHAINED_RECORDS_DATA_END,
                "GSW_CALLING_LIST": self.calling_list.name,
                "GSW_CAMPAIGN_NAME": req.campaign_name,
                "GSW_CHAIN_ID": chain_id,
            }
            builders.append(lambda: self._data_end(req))
            if user_events:
                builders.append(lambda: self._user_event(req, end_ud, start_ns))
        return builders

    def _error_for(self, req: ChainedRecordRequest) -> tuple[int, str] | None:
        if req.application_id != self.application_id:
            return ERROR_WRONG_APPLICATION, (
                f"applicationId {req.application_id} is not the OCS application of campaign "
                f"{req.campaign_name!r}"
            )
        if req.campaign_name != self.campaign_name:
            return ERROR_UNKNOWN_CAMPAIGN, f"Campaign {req.campaign_name!r} is unknown"
        if req.handle in self.faults.error_handles:
            return ERROR_INJECTED, f"Injected error for record handle {req.handle}"
        if req.handle not in self.records:
            return ERROR_UNKNOWN_HANDLE, f"Record handle {req.handle} is unknown (no such record or already finished)"
        return None

    def _record_user_data(self, row: dict[str, Any]) -> Message:
        tz_name: Any = None
        tz_offset: Any = None
        tz_dbid = row.get("tz_dbid")
        if tz_dbid is not None:
            try:
                tz_name, tz_offset = self.records.time_zone(tz_dbid)
            except Exception:  # an unknown tz_dbid in a loaded CSV must not kill the call
                tz_name, tz_offset = None, None
        user_data: Message = {
            "GSW_RECORD_HANDLE": row.get("record_handle"),
            "GSW_CHAIN_ID": row.get("chain_id"),
            "GSW_PHONE": row.get("contact_info"),
            "GSW_ATTEMPTS": row.get("attempt"),
            "GSW_CALL_RESULT": row.get("call_result"),
            "GSW_TZ_NAME": tz_name,
            "GSW_TZ_OFFSET": tz_offset,
            "GSW_CALLING_LIST": self.calling_list.name,
            "GSW_CAMPAIGN_NAME": self.campaign_name,
            "GSW_APPLICATION_ID": self.application_id,
            "GSW_USER_EVENT": CHAINED_RECORD,
        }
        for key, value in row.items():
            if key != "record_handle":
                user_data[key] = value
        return user_data

    def _outbound(self, req: ChainedRecordRequest, notification_type: str, record: Message, **extra: Any) -> Message:
        data: Message = {"record": record, "notificationType": notification_type, "messageType": OUTBOUND_RECORD_MESSAGE}
        if req.has_reference:
            data["referenceId"] = req.reference_id
        data.update(extra)
        return {"data": data, "channel": CHANNEL_OUTBOUND}

    def _chained_record(self, req: ChainedRecordRequest, user_data: Message) -> Message:
        record = {
            "recordHandle": user_data["GSW_RECORD_HANDLE"],
            "campaignName": self.campaign_name,
            "callingList": self.calling_list.name,
            "applicationId": self.application_id,
            "devicePath": req.device_path,
            "userData": user_data,
        }
        return self._outbound(req, CHAINED_RECORD, record)

    def _data_end(self, req: ChainedRecordRequest) -> Message:
        record = {
            "devicePath": req.device_path,
            "callingList": self.calling_list.name,
            "applicationId": req.application_id,
            "recordHandle": req.handle,
            "campaignName": req.campaign_name,
        }
        return self._outbound(req, CHAINED_RECORDS_DATA_END, record)

    def _error_message(self, req: ChainedRecordRequest, code: int, text: str) -> Message:
        record = {
            "devicePath": req.device_path,
            "applicationId": req.application_id,
            "recordHandle": req.handle,
            "campaignName": req.campaign_name,
        }
        return self._outbound(req, ERROR_NOTIFICATION, record, errorCode=code, errorMessage=text)

    def _user_event(self, req: ChainedRecordRequest, user_data: Message, start_ns: int) -> Message:
        now_ns = time.perf_counter_ns()
        return {
            "data": {
                "metrics": {
                    "eventProcessing": {
                        "serverGenerationTimestamp": self.faults.server_time_ms(),
                        "nodeProcessingTimeNanos": now_ns - start_ns,
                        "serverProcessingTimeTotalMs": (now_ns - req.received_ns) // 1_000_000,
                    }
                },
                "userData": user_data,
                "deviceId": req.device_id,
                "messageType": DEVICE_USER_EVENT_MESSAGE,
            },
            "channel": CHANNEL_INTERNAL,
        }
