"""The record operations of the sandbox: StartPreviewSession, EndPreviewSession, GetPreviewRecord,
CompleteRecord, UpdateRecord, RejectRecord, RescheduleRecord, DoNotCallRecord (by handle and by number) and
AddRecord, with the OCS record state model of docs/record-operations.md.

- :func:`parse_request` checks a POST body and answers the synchronous errors (statusCode 1 missing, 10 wrong
  type or value, 6 a device that is not the user's) by raising :class:`Refused`; nothing changes then.
- :class:`OperationEngine` applies an accepted request to the :class:`~gwsnb.sandbox._records.RecordStore` at
  once (so a GetChainedRecord sent after the HTTP answer sees the change) and queues the acknowledgement pair
  (OutboundRecordMessage or OutboundCampaignMessage, then its DeviceUserEventMessage), or the asynchronous
  ``Error`` notification with the sandbox's codes:

====  ========================================================================================
101   Record not found: the handle is unknown
102   Campaign not found
103   Application not found: applicationId is not the OCS application
104   (injected) ``Faults.error_handles`` names the handle
105   Record not held by this agent (Complete, Update, Reject, Reschedule, DNC by handle)
106   Record already processed: the record is final (status 3, 5 or 7, or type 7 No Call)
107   Calling list not found: not the campaign's list, or not the record's
108   No preview session: GetPreviewRecord before StartPreviewSession; campaign not in Preview mode
109   Chain not found: AddRecord's chainId
110   Invalid value: an unknown timeZone name
====  ========================================================================================
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol import (
    CHANNEL_INTERNAL,
    CHANNEL_OUTBOUND,
    DEVICE_USER_EVENT_MESSAGE,
    ERROR_NOTIFICATION,
    OUTBOUND_CAMPAIGN_MESSAGE,
    OUTBOUND_RECORD_MESSAGE,
    STATUS_INVALID_VALUE,
    STATUS_MISSING_PARAMETER,
    STATUS_NOT_FOUND,
)
from ._bayeux import BayeuxServer
from ._faults import Faults
from ._records import ZONES_BY_NAME, RecordStore, is_final

__all__ = ["ACKNOWLEDGEMENTS", "OperationEngine", "OperationRequest", "Refused", "parse_request"]

Message = dict[str, Any]

#: operationName -> the notificationType of its acknowledgement (its OCS event)
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
_SESSION_USER_EVENTS = {"StartPreviewSession": "PreviewDialingModeStartAcknowledge",
                        "EndPreviewSession": "PreviewDialingModeOverAcknowledge"}
PREVIEW_RECORD_EMPTY = "PreviewRecordEmpty"
AGENT_GROUP = "AgentGroup1"

PHONE_TYPES = ("NoContactType", "HomePhone", "DirectBusinessPhone", "BusinessWithExt", "Mobile", "VacationPhone",
               "Pager", "Modem", "VoiceMail", "PinPager", "EmailAddress", "InstantMessaging")
CALLBACK_TYPES = ("Personal", "Campaign")
CHAIN_ATTRIBUTES = ("AllChain", "RecordOnly")
#: the sandbox's own Call Result Types table (0-53), compared ignoring case, spaces, '-' and '_'
CALL_RESULTS = (
    "Ok", "Transferred", "Conferenced", "General Error", "System Error", "Remote Release", "Busy", "No Answer",
    "SIT Detected", "Answering Machine Detected", "All Trunks Busy", "SIT Invalid Num", "SIT VC (Vacant Code)",
    "SIT IC (Intercept)", "SIT Unknown Call State", "SIT NC (No Circuit)", "SIT RO (Reorder)", "Fax Detected",
    "Queue Full", "Cleared", "Overflowed", "Abandoned", "Redirected", "Forwarded", "Consult", "Picked Up",
    "Dropped", "Dropped on No Answer", "Unknown Call Result", "Covered", "Converse-On", "Bridged", "Silence",
    "Answer", "NU Tone", "No Dial Tone", "No Progress", "No Ring Back Tone", "No Established Detected",
    "Pager Detected", "Wrong Party", "Dial Error", "Call Drop Error", "Switch Error", "No Port Available",
    "Transfer Error", "Stale", "Agent Callback Error", "Group Callback Error", "Deafened", "Held", "Do Not Call",
    "Cancel Record", "Wrong Number",
)
# gcti.h spellings that differ from the table beyond case and separators
_CALL_RESULT_ALIASES = {"answeringmachine": 9, "unknown": 28, "sitinvalidnumber": 11, "fax": 17}
_NO_ATTEMPT_RESULTS = frozenset({3, 4, 41, 43, 44})  # dialing errors do not count as attempts
CALL_RESULT_DO_NOT_CALL = 51
MAX_PHONE = 128
_HANDLE_RE = re.compile(r"[0-9]{1,18}")


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).lower()


_CALL_RESULT_CODES = {**{_norm(label): code for code, label in enumerate(CALL_RESULTS)}, **_CALL_RESULT_ALIASES}


class Refused(Exception):
    """A synchronous error: the POST is answered with this statusCode and nothing changes."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "string" | "integer" | "map" | "call_result"
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 2**63 - 1
    max_len: int = 0


_CAMPAIGN = _Param("campaignName", "string", True)
_LIST = _Param("callingList", "string", True)
_LIST_OPT = _Param("callingList", "string")
_PHONE = _Param("phoneNumber", "string", max_len=MAX_PHONE)
_PHONE_REQ = _Param("phoneNumber", "string", True, max_len=MAX_PHONE)
_CHAIN_ATTR = _Param("chainAttribute", "string", choices=CHAIN_ATTRIBUTES)

#: (path kind, operationName) -> the parameters beyond applicationId, devicePath and referenceId
SPECS: dict[tuple[str, str], tuple[_Param, ...]] = {
    ("campaign", "StartPreviewSession"): (),
    ("campaign", "EndPreviewSession"): (),
    ("campaign", "GetPreviewRecord"): (),
    ("record", "CompleteRecord"): (_CAMPAIGN, _LIST, _Param("callResult", "call_result"), _PHONE),
    ("record", "UpdateRecord"): (
        _CAMPAIGN, _LIST_OPT, _PHONE, _Param("timeZone", "string"),
        _Param("phoneType", "string", choices=PHONE_TYPES), _Param("from", "integer", high=86399),
        _Param("until", "integer", high=86399)),
    ("record", "RejectRecord"): (_CAMPAIGN, _LIST),
    ("record", "RescheduleRecord"): (
        _CAMPAIGN, _Param("callbackType", "string", True, choices=CALLBACK_TYPES),
        _Param("timestamp", "integer", True)),
    ("record", "DoNotCallRecord"): (_CAMPAIGN, _LIST, _PHONE, _CHAIN_ATTR),
    ("records", "DoNotCallRecord"): (_CAMPAIGN, _LIST_OPT, _PHONE_REQ, _CHAIN_ATTR),
    ("records", "AddRecord"): (
        _CAMPAIGN, _LIST, _PHONE_REQ, _Param("timeZone", "string", True),
        _Param("phoneType", "string", True, choices=PHONE_TYPES), _Param("from", "integer", True, high=86399),
        _Param("until", "integer", True, high=86399), _Param("chainId", "integer", high=2**63 - 1),
        _Param("otherFields", "map")),
}
_COMMON = (_Param("applicationId", "integer", True, high=2**31 - 1), _Param("devicePath", "string", True))


@dataclass
class OperationRequest:
    """An accepted operation request (types checked; OCS checks come later, in the engine)."""

    operation: str
    path_kind: str  # "record" | "records" | "campaign"
    session_id: str
    login: str
    device_path: str
    device_id: str
    application_id: int
    campaign_name: str
    handle: int | None
    params: dict[str, Any]
    reference_id: Any  # echoed with its JSON type; None when the request had none
    has_reference: bool
    received_ns: int = field(default_factory=time.perf_counter_ns)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def call_result_code(value: Any) -> int | None:
    """The code of a callResult (a code 0-53, as a number or digits, or a label), None when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < len(CALL_RESULTS) else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return call_result_code(int(text))
        return _CALL_RESULT_CODES.get(_norm(text))
    return None


def _check(param: _Param, value: Any) -> Any:
    name = param.name
    if param.kind == "call_result":
        code = call_result_code(value)
        if code is None:
            raise Refused(STATUS_INVALID_VALUE, f"callResult {_describe(value)} is not a call result code or label")
        return code
    if param.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused(STATUS_INVALID_VALUE, f"{name} must be an integer, got {_describe(value)}")
        if not param.low <= value <= param.high:
            raise Refused(STATUS_INVALID_VALUE, f"{name} must be between {param.low} and {param.high}, got {value}")
        return value
    if param.kind == "map":
        if not isinstance(value, dict):
            raise Refused(STATUS_INVALID_VALUE, f"{name} must be a JSON object, got {_describe(value)}")
        return value
    if not isinstance(value, str):
        raise Refused(STATUS_INVALID_VALUE, f"{name} must be a string, got {_describe(value)}")
    if param.choices and value not in param.choices:
        raise Refused(STATUS_INVALID_VALUE, f"{name} {value!r} is not one of {', '.join(param.choices)}")
    if not value.strip() or (param.max_len and len(value) > param.max_len):
        raise Refused(STATUS_INVALID_VALUE, f"{name} must be 1 to {param.max_len or 255} characters")
    return value


def _reference(body: dict[str, Any]) -> tuple[Any, bool]:
    if "referenceId" not in body:
        return None, False
    ref = body["referenceId"]
    if isinstance(ref, bool) or not isinstance(ref, (str, int, float)):
        raise Refused(STATUS_INVALID_VALUE, f"referenceId must be a string or a number, got {_describe(ref)}")
    return ref, True


def parse_request(path_kind: str, path_arg: str | None, body: dict[str, Any], *, operation: str,
                  session_id: str, login: str, device_ids: tuple[str, ...]) -> OperationRequest:
    """Check one operation's POST (its ``operationName`` already read).

    :param path_kind: ``record`` (``outbound-records/<handle>``), ``records`` (``outbound-records``) or
        ``campaign`` (``outbound-campaigns/<name>``); ``path_arg`` is the handle or campaign name.
    :raises Refused: statusCode 1, 10 or 6 (see the module doc).
    """
    specs = SPECS.get((path_kind, operation))
    if specs is None:
        raise Refused(STATUS_INVALID_VALUE, f"operationName {operation!r} is not an operation of this path")
    for param in (*_COMMON, *specs):
        if param.required and body.get(param.name) is None:
            raise Refused(STATUS_MISSING_PARAMETER, f"{param.name} is required")
    handle = None
    if path_kind == "record":
        if path_arg is None or not _HANDLE_RE.fullmatch(path_arg) or int(path_arg) < 1:
            raise Refused(STATUS_INVALID_VALUE, f"record handle must be a positive integer, got {path_arg!r}")
        handle = int(path_arg)
    values = {p.name: _check(p, body[p.name]) for p in (*_COMMON, *specs) if body.get(p.name) is not None}
    reference, has_reference = _reference(body)
    paths = [f"/devices/{d}" for d in device_ids]
    if values["devicePath"] not in paths:
        raise Refused(STATUS_NOT_FOUND, f"devicePath {values['devicePath']!r} is not one of this user's devices")
    campaign = path_arg if path_kind == "campaign" else values["campaignName"]
    assert campaign is not None
    return OperationRequest(
        operation=operation, path_kind=path_kind, session_id=session_id, login=login,
        device_path=values["devicePath"], device_id=device_ids[paths.index(values["devicePath"])],
        application_id=values["applicationId"], campaign_name=campaign, handle=handle, params=values,
        reference_id=reference, has_reference=has_reference)


class _Failure(Exception):
    """An asynchronous error: the Error notification with this errorCode."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Outcome:
    """What one request produces: the outbound message's notificationType and extras, and its user event."""

    kind: str
    record: Message | None = None
    campaign: Message | None = None
    user_data: Message | None = None
    message_type: str = OUTBOUND_RECORD_MESSAGE


class OperationEngine:
    """Applies the record operations to the store and queues their notifications (see the module doc)."""

    def __init__(self, store: RecordStore, bayeux: BayeuxServer, faults: Faults, *, campaign_name: str,
                 application_id: int, record_user_data: Callable[[dict[str, Any]], Message]) -> None:
        self.store = store
        self.bayeux = bayeux
        self.faults = faults
        self.campaign_name = campaign_name
        self.application_id = application_id
        self._record_user_data = record_user_data
        #: the campaign's dialing mode; anything but "Preview" makes StartPreviewSession fail with 108
        self.dialing_mode = "Preview"
        self.preview_sessions: set[str] = set()  # device ids with a preview session on the campaign
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"OperationEngine(campaign={self.campaign_name!r}, store={self.store!r})"

    # ----- entry points ----------------------------------------------------------------------------

    def submit(self, req: OperationRequest) -> None:
        """Apply ``req`` now and queue its notifications in the background (the HTTP answer does not wait)."""
        start_ns = time.perf_counter_ns()
        try:
            self._check_common(req)
            outcome = getattr(self, "_op_" + req.operation)(req)
            messages = self._messages(req, outcome, start_ns)
        except _Failure as failure:
            messages = [self._error(req, failure)]
        task = asyncio.get_running_loop().create_task(self._deliver(req, messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def end_session(self, session_id: str) -> None:
        """EndContactCenterSession: the chains the HTTP session holds return as RejectRecord returns them."""
        for chain_id, sid in list(self.store.hold_sessions.items()):
            if sid == session_id:
                self._return_chain(chain_id)

    async def _deliver(self, req: OperationRequest, messages: list[Message]) -> None:
        faults = self.faults
        for message in messages:
            if message["channel"] == CHANNEL_INTERNAL and faults.drop_user_events:
                continue
            if faults.latency_ms > 0:
                await asyncio.sleep(faults.latency_ms / 1000.0)
            for _ in range(2 if faults.duplicate else 1):
                self.bayeux.deliver(req.session_id, message)
                if faults.foreign:
                    self.bayeux.deliver_foreign(req.session_id, message)

    # ----- checks --------------------------------------------------------------------------------

    def _check_common(self, req: OperationRequest) -> None:
        if req.application_id != self.application_id:
            raise _Failure(103, f"Application not found: {req.application_id} is not the OCS application")
        if req.campaign_name != self.campaign_name:
            raise _Failure(102, f"Campaign not found: {req.campaign_name!r}")
        if req.handle is not None and req.handle in self.faults.error_handles:
            raise _Failure(104, f"Injected error for record handle {req.handle}")
        if req.handle is not None and req.handle not in self.store:
            raise _Failure(101, f"Record not found: handle {req.handle}")
        listed = req.params.get("callingList")
        if listed is not None and listed != self.store.name:
            raise _Failure(107, f"Calling list not found: {listed!r} is not a list of campaign {self.campaign_name!r}")

    def _held(self, req: OperationRequest) -> dict[str, Any]:
        """The named record, checked final (106) and held by the caller's device (105)."""
        assert req.handle is not None
        row = self.store.record(req.handle)
        assert row is not None
        if is_final(row):
            raise _Failure(106, f"Record already processed: handle {req.handle}")
        if self.store.holds.get(row["chain_id"]) != req.device_id:
            raise _Failure(105, f"Record not held by this agent: handle {req.handle}")
        return row

    def _held_members(self, row: dict[str, Any], device_id: str) -> list[dict[str, Any]]:
        """The other Retrieved records of the row's chain (the chain is held by ``device_id``)."""
        if self.store.holds.get(row["chain_id"]) != device_id:
            return []
        return [r for r in self.store.chain_by_id(row["chain_id"])
                if r["record_handle"] != row["record_handle"] and r["record_status"] == 2]

    # ----- campaign operations ----------------------------------------------------------------------

    def _op_StartPreviewSession(self, req: OperationRequest) -> _Outcome:
        if self.dialing_mode != "Preview":
            raise _Failure(108, f"No preview session: campaign {req.campaign_name!r} runs in {self.dialing_mode} mode")
        self.preview_sessions.add(req.device_id)
        campaign = {"name": req.campaign_name, "dialingMode": "Preview",
                    "groupName": f"{req.campaign_name}@{AGENT_GROUP}", "state": "Started",
                    "devicePath": req.device_path, "applicationId": req.application_id,
                    "groupDescription": "", "description": ""}
        return _Outcome("PreviewSessionStarted", campaign=campaign, message_type=OUTBOUND_CAMPAIGN_MESSAGE,
                        user_data=self._session_user_data(req))

    def _op_EndPreviewSession(self, req: OperationRequest) -> _Outcome:
        self.preview_sessions.discard(req.device_id)
        campaign = {"devicePath": req.device_path, "state": "Started", "applicationId": req.application_id,
                    "name": req.campaign_name}
        return _Outcome("PreviewSessionEnded", campaign=campaign, message_type=OUTBOUND_CAMPAIGN_MESSAGE,
                        user_data=self._session_user_data(req))

    def _session_user_data(self, req: OperationRequest) -> Message:
        return {"GSW_APPLICATION_ID": req.application_id, "GSW_CAMPAIGN_NAME": req.campaign_name,
                "GSW_USER_EVENT": _SESSION_USER_EVENTS[req.operation]}

    def _op_GetPreviewRecord(self, req: OperationRequest) -> _Outcome:
        if self.dialing_mode != "Preview" or req.device_id not in self.preview_sessions:
            raise _Failure(108, "No preview session: send StartPreviewSession first")
        store = self.store
        now = store.clock()
        dnc = {entry["phone"] for entry in store.dnc}
        for chain_id in store.eligible_chains(req.login):
            while (row := store.pick(store.chain_by_id(chain_id), req.login, now)) is not None:
                if row["contact_info"] not in dnc:
                    return self._hand_out(req, chain_id, row)
                store.update(row["record_handle"], record_type=7, call_result=CALL_RESULT_DO_NOT_CALL,
                             record_status=3)
        return _Outcome(PREVIEW_RECORD_EMPTY, record={"campaignName": req.campaign_name,
                                                       "applicationId": req.application_id,
                                                       "devicePath": req.device_path})

    def _hand_out(self, req: OperationRequest, chain_id: int, row: dict[str, Any]) -> _Outcome:
        store = self.store
        for member in store.chain_by_id(chain_id):
            if member["record_status"] == 1:
                store.update(member["record_handle"], record_status=2)
            store.rescheduled.pop(member["record_handle"], None)
        store.holds[chain_id] = req.device_id
        store.hold_sessions[chain_id] = req.session_id
        store.active[chain_id] = row["record_handle"]
        current = store.record(row["record_handle"])
        assert current is not None
        user_data = self._record_user_data(current)
        user_data.update({"GSW_USER_EVENT": "PreviewRecord", "GSW_AGENT_ID": req.login,
                          "GSW_CALL_ATTEMPT_GUID": uuid.uuid4().hex.upper()[:32],
                          "InteractionType": "Outbound", "InteractionSubtype": "OutboundNew"})
        record = {"recordHandle": current["record_handle"], "campaignName": req.campaign_name,
                  "callingList": store.name, "applicationId": req.application_id, "devicePath": req.device_path,
                  "userData": user_data}
        return _Outcome("PreviewRecord", record=record, user_data=user_data)

    # ----- record operations -------------------------------------------------------------------------

    def _ack(self, req: OperationRequest, handle: int | None = None, **user_data: Any) -> _Outcome:
        handle = req.handle if handle is None else handle
        record = {"devicePath": req.device_path, "callingList": self.store.name,
                  "applicationId": req.application_id, "recordHandle": handle, "campaignName": req.campaign_name}
        data = {"GSW_APPLICATION_ID": req.application_id, "GSW_RECORD_HANDLE": handle,
                "GSW_USER_EVENT": ACKNOWLEDGEMENTS[req.operation], "GSW_CALLING_LIST": self.store.name,
                "GSW_CAMPAIGN_NAME": req.campaign_name, **user_data}
        return _Outcome(ACKNOWLEDGEMENTS[req.operation], record=record, user_data=data)

    def _finish_chain(self, row: dict[str, Any], device_id: str, member_status: int) -> None:
        """The named record was the active one: its held members get ``member_status``; the hold ends."""
        store = self.store
        chain_id = row["chain_id"]
        if store.active.get(chain_id) != row["record_handle"]:
            return
        for member in self._held_members(row, device_id):
            store.update(member["record_handle"], record_status=member_status)
        store.release(chain_id)

    def _op_CompleteRecord(self, req: OperationRequest) -> _Outcome:
        assert req.handle is not None
        if self.store.rescheduled.get(req.handle) == req.device_id:
            return self._ack(req)  # reschedule-then-RecordProcessed: acknowledged, nothing changes
        row = self._held(req)
        params = req.params
        result = params.get("callResult", row["call_result"])
        changes: dict[str, Any] = {"record_status": 3, "call_result": result, "call_time": int(time.time())}
        if result not in _NO_ATTEMPT_RESULTS:
            changes["attempt"] = row["attempt"] + 1
        if "phoneNumber" in params:
            changes["contact_info"] = params["phoneNumber"]
        self._finish_chain(row, req.device_id, 7)
        self.store.update(req.handle, **changes)
        return self._ack(req)

    def _time_zone(self, req: OperationRequest) -> int | None:
        name = req.params.get("timeZone")
        if name is None:
            return None
        tz_dbid = ZONES_BY_NAME.get(name)
        if tz_dbid is None:
            raise _Failure(110, f"Invalid value: timeZone {name!r} is not known ({', '.join(sorted(ZONES_BY_NAME))})")
        return tz_dbid

    def _fields(self, req: OperationRequest) -> dict[str, Any]:
        """contact_info, contact_info_type, tz_dbid, daily_from, daily_till from the parameters given."""
        params = req.params
        changes: dict[str, Any] = {}
        tz_dbid = self._time_zone(req)
        if tz_dbid is not None:
            changes["tz_dbid"] = tz_dbid
        if "phoneNumber" in params:
            changes["contact_info"] = params["phoneNumber"]
        if "phoneType" in params:
            changes["contact_info_type"] = PHONE_TYPES.index(params["phoneType"])
        if "from" in params:
            changes["daily_from"] = params["from"]
        if "until" in params:
            changes["daily_till"] = params["until"]
        return changes

    def _op_UpdateRecord(self, req: OperationRequest) -> _Outcome:
        assert req.handle is not None
        self._held(req)
        changes = self._fields(req)
        if changes:
            self.store.update(req.handle, **changes)
        return self._ack(req)

    def _return_chain(self, chain_id: int) -> None:
        for member in self.store.chain_by_id(chain_id):
            if member["record_status"] == 2:
                self.store.update(member["record_handle"], record_status=1)
        self.store.release(chain_id, to_back=True)

    def _op_RejectRecord(self, req: OperationRequest) -> _Outcome:
        row = self._held(req)
        self._return_chain(row["chain_id"])
        return self._ack(req)

    def _op_RescheduleRecord(self, req: OperationRequest) -> _Outcome:
        assert req.handle is not None
        row = self._held(req)
        personal = req.params["callbackType"] == "Personal"
        store = self.store
        for member in self._held_members(row, req.device_id):
            store.update(member["record_handle"], record_status=1)
        store.update(req.handle, record_status=1, record_type=5 if personal else 6,
                     dial_sched_time=req.params["timestamp"], attempt=row["attempt"] + 1, call_time=int(time.time()))
        store.set_agent(req.handle, req.login if personal else None)
        store.rescheduled[req.handle] = req.device_id
        store.release(row["chain_id"])
        return self._ack(req)

    def _mark_no_call(self, row: dict[str, Any], status: int) -> None:
        self.store.update(row["record_handle"], record_type=7, call_result=CALL_RESULT_DO_NOT_CALL,
                          record_status=status)

    def _do_not_call(self, row: dict[str, Any], device_id: str | None, all_chain: bool) -> None:
        """DoNotCallRecord on one record (docs/record-operations.md, transitions)."""
        store = self.store
        chain_id = row["chain_id"]
        active = device_id is not None and store.active.get(chain_id) == row["record_handle"]
        self._mark_no_call(row, 3)
        if all_chain:
            for member in store.chain_by_id(chain_id):
                if member["record_handle"] != row["record_handle"] and not is_final(member):
                    self._mark_no_call(member, 7)
            if chain_id in store.holds:
                store.release(chain_id)
        elif active:
            assert device_id is not None
            for member in store.chain_by_id(chain_id):
                if member["record_status"] == 2 and store.holds.get(chain_id) == device_id:
                    store.update(member["record_handle"], record_status=1)
            store.release(chain_id)

    def _dnc_entry(self, req: OperationRequest, phone: str) -> None:
        self.store.dnc.append({"phone": phone, "campaign_name": req.campaign_name, "calling_list": self.store.name,
                               "time_stamp": int(time.time())})
        self.store.version += 1

    def _op_DoNotCallRecord(self, req: OperationRequest) -> _Outcome:
        all_chain = req.params.get("chainAttribute", "AllChain") == "AllChain"
        phone = req.params.get("phoneNumber")
        if req.handle is not None:
            row = self._held(req)
            self._dnc_entry(req, phone if phone is not None else row["contact_info"])
            self._do_not_call(row, req.device_id, all_chain)
            return self._ack(req)
        assert isinstance(phone, str)  # required by the path's spec
        self._dnc_entry(req, phone)
        frame = self.store.frame()
        for handle in frame.loc[frame["contact_info"] == phone, "record_handle"].tolist():
            found = self.store.record(int(handle))
            if found is not None and not is_final(found) and found["chain_id"] not in self.store.holds:
                self._do_not_call(found, None, all_chain)
        record = {"devicePath": req.device_path, "applicationId": req.application_id, "phoneNumber": phone,
                  "campaignName": req.campaign_name}
        if "callingList" in req.params:
            record["callingList"] = req.params["callingList"]
        user_data = {"GSW_APPLICATION_ID": req.application_id, "GSW_PHONE": phone,
                     "GSW_USER_EVENT": ACKNOWLEDGEMENTS[req.operation], "GSW_CALLING_LIST": self.store.name,
                     "GSW_CAMPAIGN_NAME": req.campaign_name}
        return _Outcome(ACKNOWLEDGEMENTS[req.operation], record=record, user_data=user_data)

    def _op_AddRecord(self, req: OperationRequest) -> _Outcome:
        store = self.store
        chain_id = req.params.get("chainId")
        if chain_id is not None and not store.has_chain(chain_id):
            raise _Failure(109, f"Chain not found: chainId {chain_id} in list {store.name!r}")
        fields = self._fields(req)
        row: dict[str, Any] = {key: None for key in store.base.frame.columns}
        row.update({"contact_info_type": 1, "record_type": 2, "record_status": 1, "call_result": 28, "attempt": 0,
                    "daily_from": 28800, "daily_till": 64800})
        row.update(fields)
        other = req.params.get("otherFields") or {}
        row.update({key: value for key, value in other.items() if key in store.base.custom_fields})
        new = store.add(row, chain_id)
        return self._ack(req, new["record_handle"], GSW_CHAIN_ID=new["chain_id"])

    # ----- messages --------------------------------------------------------------------------------

    def _messages(self, req: OperationRequest, outcome: _Outcome, start_ns: int) -> list[Message]:
        data: Message = {"messageType": outcome.message_type, "notificationType": outcome.kind}
        if req.has_reference:
            data["referenceId"] = req.reference_id
        if outcome.record is not None:
            data["record"] = outcome.record
        if outcome.campaign is not None:
            data["campaign"] = outcome.campaign
        messages: list[Message] = [{"channel": CHANNEL_OUTBOUND, "data": data}]
        if outcome.user_data is not None:
            now_ns = time.perf_counter_ns()
            metrics = {"eventProcessing": {"serverGenerationTimestamp": self.faults.server_time_ms(),
                                           "nodeProcessingTimeNanos": now_ns - start_ns,
                                           "serverProcessingTimeTotalMs": (now_ns - req.received_ns) // 1_000_000}}
            messages.append({"channel": CHANNEL_INTERNAL, "data": {
                "messageType": DEVICE_USER_EVENT_MESSAGE, "deviceId": req.device_id, "metrics": metrics,
                "userData": outcome.user_data}})
        return messages

    def _error(self, req: OperationRequest, failure: _Failure) -> Message:
        data: Message = {"messageType": OUTBOUND_RECORD_MESSAGE, "notificationType": ERROR_NOTIFICATION}
        if req.has_reference:
            data["referenceId"] = req.reference_id
        data.update(errorCode=failure.code, errorMessage=failure.message)
        if req.path_kind == "campaign":
            if req.operation != "GetPreviewRecord":
                data["messageType"] = OUTBOUND_CAMPAIGN_MESSAGE
            data["campaign"] = {"name": req.campaign_name, "applicationId": req.application_id,
                                "devicePath": req.device_path}
        else:
            record: Message = {"campaignName": req.campaign_name, "applicationId": req.application_id,
                               "devicePath": req.device_path}
            if req.handle is not None:
                record["recordHandle"] = req.handle
            else:
                record["phoneNumber"] = req.params.get("phoneNumber")
            if "callingList" in req.params:
                record["callingList"] = req.params["callingList"]
            data["record"] = record
        return {"channel": CHANNEL_OUTBOUND, "data": data}
