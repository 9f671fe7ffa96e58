"""The record operations of GWS v2 Outbound, from a notebook: preview, complete, update, reject, reschedule,
do-not-call, add (docs/record-operations.md has the requests, acknowledgements and errors).

:class:`RecordOperations` is mixed into :class:`~gwsnb.client.GwsClient`: one method per operation and an
awaitable ``*_async`` twin.  Each one

1. refuses at once, with :class:`~gwsnb.errors.WritesNotAllowedError`, on a client connected without
   ``allow_writes=True`` (or ``GWS_ALLOW_WRITES=1``): every one of them changes OCS data or the agent's
   state, so a client is read-only unless told otherwise;
2. validates every parameter with :class:`~gwsnb.params.OperationParams` (nothing is sent on a bad one);
3. logs the request it sends in the client's ``event_log`` as an :class:`~gwsnb.results.Event` whose
   message is ``{"channel": "/gwsnb/sent", "gwsnb.sent": {"method": "POST", "path": ...}, "data": <body>}``
   (``events_frame()`` shows it beside the notifications, with the same ``reference_id``);
4. sends the POST once, never again after a timeout or a lost answer (a resent CompleteRecord may act
   twice): a request the server *refused* (CSRF, session expired) changed nothing and is sent again once
   after a new login, as every POST of the client is;
5. waits for the notification with its referenceId and returns an :class:`OperationResult`, or raises
   :class:`~gwsnb.errors.RecordOperationError` for the ``Error`` notification, or
   :class:`~gwsnb.errors.OutcomeUnknownError` when CometD came back on a new session (an outage, a
   restart) after the POST was answered and before the acknowledgement came (docs/engine.md, "Outages").
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._engine.operation_waiters import Waiter
from ._wire.loop import LoopTimeout
from .errors import GwsError, NotificationTimeout, TransportError, WritesNotAllowedError
from .params import OperationParams
from .results import CallTimings, Event, OperationResult

if TYPE_CHECKING:
    from ._engine.correlate import Correlator
    from ._engine.watch import OwnReferences
    from ._wire.cometd import EventLog
    from ._wire.loop import LoopThread
    from ._wire.rest import RestSession
    from .params import ChainedRecordParams

__all__ = ["OperationResult", "RecordOperations", "SENT_CHANNEL"]

#: the ``channel`` of the event-log entries that record a request the client sent
SENT_CHANNEL = "/gwsnb/sent"
_BLOCKING_MARGIN = 5.0


class RecordOperations:
    """The record operations of :class:`~gwsnb.client.GwsClient` (see the module doc)."""

    if TYPE_CHECKING:
        allow_writes: bool
        timeout: float
        event_log: EventLog
        _loop: LoopThread | None
        _rest: RestSession
        _correlator: Correlator
        _own_references: OwnReferences

        def _prepare(self, record_handle: Any, campaign_name: Any, application_id: Any, device_path: Any,
                     reference_id: Any, timeout: Any) -> tuple[ChainedRecordParams, str]: ...

        def _session_epoch(self) -> int: ...

    # --- the operations -------------------------------------------------------------------------
    def start_preview_session(self, *, campaign_name: str, application_id: int, device_path: str | None = None,
                              reference_id: str | int | None = None,
                              timeout: float | None = None) -> OperationResult:
        """StartPreviewSession: start the agent's preview session on the campaign (needed before
        :meth:`get_preview_record`).  Errors on the same terms as :meth:`complete_record`."""
        return self._blocking(self._submit("StartPreviewSession", None, campaign_name, application_id, device_path,
                                           reference_id, timeout))

    async def start_preview_session_async(self, *, campaign_name: str, application_id: int,
                                          device_path: str | None = None, reference_id: str | int | None = None,
                                          timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`start_preview_session`."""
        return await self._awaitable(self._submit("StartPreviewSession", None, campaign_name, application_id,
                                                  device_path, reference_id, timeout))

    def end_preview_session(self, *, campaign_name: str, application_id: int, device_path: str | None = None,
                            reference_id: str | int | None = None, timeout: float | None = None) -> OperationResult:
        """EndPreviewSession: end the agent's preview session (records it holds stay held)."""
        return self._blocking(self._submit("EndPreviewSession", None, campaign_name, application_id, device_path,
                                           reference_id, timeout))

    async def end_preview_session_async(self, *, campaign_name: str, application_id: int,
                                        device_path: str | None = None, reference_id: str | int | None = None,
                                        timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`end_preview_session`."""
        return await self._awaitable(self._submit("EndPreviewSession", None, campaign_name, application_id,
                                                  device_path, reference_id, timeout))

    def get_preview_record(self, *, campaign_name: str, application_id: int, device_path: str | None = None,
                           reference_id: str | int | None = None, timeout: float | None = None) -> OperationResult:
        """GetPreviewRecord: have a chain handed to this device; ``result.record`` is the record to call and
        ``result.record_handle`` its handle.  ``result.empty`` is True (not an error) when nothing is due."""
        return self._blocking(self._submit("GetPreviewRecord", None, campaign_name, application_id, device_path,
                                           reference_id, timeout))

    async def get_preview_record_async(self, *, campaign_name: str, application_id: int,
                                       device_path: str | None = None, reference_id: str | int | None = None,
                                       timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`get_preview_record`."""
        return await self._awaitable(self._submit("GetPreviewRecord", None, campaign_name, application_id,
                                                  device_path, reference_id, timeout))

    def complete_record(self, handle: int, *, campaign_name: str, application_id: int, calling_list: str,
                        call_result: int | str | None = None, phone_number: str | None = None,
                        device_path: str | None = None, reference_id: str | int | None = None,
                        timeout: float | None = None) -> OperationResult:
        """CompleteRecord: finalize a record this device holds.

        :param call_result: a code (``6``) or a label (``"Busy"``, ``"NoAnswer"``) of :mod:`gwsnb.labels`.
        :raises WritesNotAllowedError: the client is read-only (nothing was sent).
        :raises InvalidParameterError: a bad parameter (nothing was sent).
        :raises GwsStatusError: the POST was answered with a non-zero statusCode.
        :raises RecordOperationError: the ``Error`` notification (``error_code``; see docs/record-operations.md).
        :raises NotificationTimeout: no answer in time; the operation may or may not have been applied, and
            it is not resent.
        """
        return self._blocking(self._submit("CompleteRecord", handle, campaign_name, application_id, device_path,
                                           reference_id, timeout, calling_list=calling_list,
                                           call_result=call_result, phone_number=phone_number))

    async def complete_record_async(self, handle: int, *, campaign_name: str, application_id: int,
                                    calling_list: str, call_result: int | str | None = None,
                                    phone_number: str | None = None, device_path: str | None = None,
                                    reference_id: str | int | None = None,
                                    timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`complete_record`."""
        return await self._awaitable(self._submit(
            "CompleteRecord", handle, campaign_name, application_id, device_path, reference_id, timeout,
            calling_list=calling_list, call_result=call_result, phone_number=phone_number))

    def reject_record(self, handle: int, *, campaign_name: str, application_id: int, calling_list: str,
                      device_path: str | None = None, reference_id: str | int | None = None,
                      timeout: float | None = None) -> OperationResult:
        """RejectRecord: return the held chain to the campaign (it goes to the back of the queue)."""
        return self._blocking(self._submit("RejectRecord", handle, campaign_name, application_id, device_path,
                                           reference_id, timeout, calling_list=calling_list))

    async def reject_record_async(self, handle: int, *, campaign_name: str, application_id: int, calling_list: str,
                                  device_path: str | None = None, reference_id: str | int | None = None,
                                  timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`reject_record`."""
        return await self._awaitable(self._submit("RejectRecord", handle, campaign_name, application_id,
                                                  device_path, reference_id, timeout, calling_list=calling_list))

    def update_record(self, handle: int, *, campaign_name: str, application_id: int, calling_list: str | None = None,
                      phone_number: str | None = None, phone_type: str | int | None = None,
                      time_zone: str | None = None, daily_from: int | None = None, daily_till: int | None = None,
                      device_path: str | None = None, reference_id: str | int | None = None,
                      timeout: float | None = None) -> OperationResult:
        """UpdateRecord: change a held record's phone, phone type (``"Mobile"`` or its code 4), time zone
        (``"PST"``) or daily window (seconds since midnight); an update changing nothing is valid."""
        return self._blocking(self._submit(
            "UpdateRecord", handle, campaign_name, application_id, device_path, reference_id, timeout,
            calling_list=calling_list, phone_number=phone_number, phone_type=phone_type, time_zone=time_zone,
            daily_from=daily_from, daily_till=daily_till))

    async def update_record_async(self, handle: int, *, campaign_name: str, application_id: int,
                                  calling_list: str | None = None, phone_number: str | None = None,
                                  phone_type: str | int | None = None, time_zone: str | None = None,
                                  daily_from: int | None = None, daily_till: int | None = None,
                                  device_path: str | None = None, reference_id: str | int | None = None,
                                  timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`update_record`."""
        return await self._awaitable(self._submit(
            "UpdateRecord", handle, campaign_name, application_id, device_path, reference_id, timeout,
            calling_list=calling_list, phone_number=phone_number, phone_type=phone_type, time_zone=time_zone,
            daily_from=daily_from, daily_till=daily_till))

    def reschedule_record(self, handle: int, *, campaign_name: str, application_id: int, callback_type: str,
                          timestamp: int | datetime, device_path: str | None = None,
                          reference_id: str | int | None = None, timeout: float | None = None) -> OperationResult:
        """RescheduleRecord: make a held record a ``"Personal"`` or ``"Campaign"`` callback due at
        ``timestamp`` (epoch seconds, or an aware datetime); the hold ends."""
        return self._blocking(self._submit("RescheduleRecord", handle, campaign_name, application_id, device_path,
                                           reference_id, timeout, callback_type=callback_type, timestamp=timestamp))

    async def reschedule_record_async(self, handle: int, *, campaign_name: str, application_id: int,
                                      callback_type: str, timestamp: int | datetime, device_path: str | None = None,
                                      reference_id: str | int | None = None,
                                      timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`reschedule_record`."""
        return await self._awaitable(self._submit(
            "RescheduleRecord", handle, campaign_name, application_id, device_path, reference_id, timeout,
            callback_type=callback_type, timestamp=timestamp))

    def do_not_call(self, handle: int | None = None, *, campaign_name: str, application_id: int,
                    calling_list: str | None = None, phone_number: str | None = None, chain: bool = True,
                    device_path: str | None = None, reference_id: str | int | None = None,
                    timeout: float | None = None) -> OperationResult:
        """DoNotCallRecord: put a held record's number (or ``phone_number``) on the do-not-call list and mark
        the record (``chain=True``: its whole chain) No Call.  With ``handle=None`` it works by
        ``phone_number`` instead (then ``calling_list`` is optional; it is required with a handle)."""
        return self._blocking(self._do_not_call(handle, campaign_name, application_id, calling_list, phone_number,
                                                chain, device_path, reference_id, timeout))

    async def do_not_call_async(self, handle: int | None = None, *, campaign_name: str, application_id: int,
                                calling_list: str | None = None, phone_number: str | None = None,
                                chain: bool = True, device_path: str | None = None,
                                reference_id: str | int | None = None, timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`do_not_call`."""
        return await self._awaitable(self._do_not_call(handle, campaign_name, application_id, calling_list,
                                                       phone_number, chain, device_path, reference_id, timeout))

    def add_record(self, *, campaign_name: str, application_id: int, calling_list: str, phone_number: str,
                   time_zone: str, phone_type: str | int, daily_from: int, daily_till: int, chain_id: int | None = None,
                   other_fields: dict[str, Any] | None = None, device_path: str | None = None,
                   reference_id: str | int | None = None, timeout: float | None = None) -> OperationResult:
        """AddRecord: insert a record into ``calling_list`` (into chain ``chain_id``, else a new chain);
        ``result.record_handle`` is the new handle when the acknowledgement carries it (``None`` otherwise)."""
        return self._blocking(self._submit(
            "AddRecord", None, campaign_name, application_id, device_path, reference_id, timeout,
            calling_list=calling_list, phone_number=phone_number, time_zone=time_zone, phone_type=phone_type,
            daily_from=daily_from, daily_till=daily_till, chain_id=chain_id, other_fields=other_fields))

    async def add_record_async(self, *, campaign_name: str, application_id: int, calling_list: str,
                               phone_number: str, time_zone: str, phone_type: str | int, daily_from: int,
                               daily_till: int, chain_id: int | None = None, other_fields: dict[str, Any] | None = None,
                               device_path: str | None = None, reference_id: str | int | None = None,
                               timeout: float | None = None) -> OperationResult:
        """The awaitable twin of :meth:`add_record`."""
        return await self._awaitable(self._submit(
            "AddRecord", None, campaign_name, application_id, device_path, reference_id, timeout,
            calling_list=calling_list, phone_number=phone_number, time_zone=time_zone, phone_type=phone_type,
            daily_from=daily_from, daily_till=daily_till, chain_id=chain_id, other_fields=other_fields))

    # --- shared machinery -----------------------------------------------------------------------
    def _do_not_call(self, handle: Any, campaign_name: Any, application_id: Any, calling_list: Any,
                     phone_number: Any, chain: Any, device_path: Any, reference_id: Any,
                     timeout: Any) -> tuple[OperationParams, str]:
        operation = "DoNotCallRecord" if handle is not None else "DoNotCallRecordByPhone"
        return self._submit(operation, handle, campaign_name, application_id, device_path, reference_id, timeout,
                            calling_list=calling_list, phone_number=phone_number, chain=chain)

    def _submit(self, operation: str, handle: Any, campaign_name: Any, application_id: Any, device_path: Any,
                reference_id: Any, timeout: Any, **fields: Any) -> tuple[OperationParams, str]:
        """The write guard, then the one validator and the device choice; nothing is sent here."""
        if not self.allow_writes:
            raise WritesNotAllowedError(operation.replace("ByPhone", ""))
        params = OperationParams(operation, campaign_name, application_id, handle, device_path, reference_id,
                                 timeout, fields).validate()
        _, device = self._prepare(params.record_handle or 1, params.campaign_name, params.application_id,
                                  params.device_path, params.reference_id, params.timeout)
        if self._loop is None:
            raise TransportError("the client is not connected")
        return params, device

    def _blocking(self, prepared: tuple[OperationParams, str]) -> OperationResult:
        params, device = prepared
        assert self._loop is not None
        wait = (params.timeout or self.timeout) + _BLOCKING_MARGIN
        try:
            return self._loop.run(self._operation(params, device), wait)
        except LoopTimeout:
            raise NotificationTimeout(f"{params.operation_name}: the client loop did not answer in {wait} s",
                                      record_handle=params.record_handle) from None

    async def _awaitable(self, prepared: tuple[OperationParams, str]) -> OperationResult:
        params, device = prepared
        assert self._loop is not None
        core = self._operation(params, device)
        if self._loop.in_loop_thread():
            return await core
        return await asyncio.wrap_future(self._loop.submit(core))

    async def _post_operation(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The one REST POST of the record operations (sent once; see the module doc)."""
        return await self._rest.post(path, body)

    @staticmethod
    def _no_http_answer(params: OperationParams, timeout: float) -> NotificationTimeout:
        return NotificationTimeout(
            f"{params.operation_name}: no HTTP answer within {timeout:.1f} s; the operation may have been "
            "applied (gwsnb never resends it)", record_handle=params.record_handle)

    def _log_sent(self, path: str, body: dict[str, Any]) -> None:
        self.event_log.append(Event(time.time(), {"channel": SENT_CHANNEL,
                                                  "gwsnb.sent": {"method": "POST", "path": path},
                                                  "data": dict(body)}))

    async def _operation(self, params: OperationParams, device_path: str) -> OperationResult:
        loop = asyncio.get_running_loop()
        timeout = params.timeout or self.timeout
        deadline = loop.time() + timeout
        reference_id = params.reference_id if params.reference_id is not None else f"gwsnb-{uuid.uuid4().hex}"
        name, handle = params.operation_name, params.record_handle
        result = OperationResult(name, str(reference_id), handle, params.campaign_name, params.application_id,
                                 device_path, CallTimings(sent=time.time()))
        future: asyncio.Future[OperationResult] = loop.create_future()
        waiters = self._correlator.operations
        assert waiters is not None
        phone = (params.fields or {}).get("phoneNumber") if params.operation == "DoNotCallRecordByPhone" else None
        waiter = Waiter(str(reference_id), name, device_path.rsplit("/", 1)[-1], handle, params.campaign_name,
                        phone, result, future)
        waiters.register(waiter)  # before the POST: notifications can arrive before the HTTP answer
        self._own_references.add(reference_id)
        try:
            body = params.request_body(reference_id, device_path)
            self._log_sent(params.path, body)
            result.timings.sent = time.time()
            await self._send_once(params, body, max(deadline - loop.time(), 0.001), result)
            # from now on a new CometD session fails it with OutcomeUnknownError (never resent)
            waiter.epoch = self._session_epoch()
            try:
                return await asyncio.wait_for(asyncio.shield(future), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                raise NotificationTimeout(
                    f"{name}: no acknowledgement within {timeout} s; the operation may have been applied "
                    "(gwsnb never resends it: check with get_chained_record)", record_handle=handle) from None
        finally:
            if not future.done():
                future.cancel()
            waiters.discard(waiter)

    async def _send_once(self, params: OperationParams, body: dict[str, Any], timeout: float,
                         result: OperationResult) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await asyncio.wait_for(self._post_operation(params.path, body), timeout)
        except asyncio.TimeoutError:
            raise self._no_http_answer(params, timeout) from None
        except GwsError as exc:
            if isinstance(exc, TransportError) and loop.time() >= deadline:
                # the HTTP timer came due with this deadline (a starved loop) and, the inner one, won
                raise self._no_http_answer(params, timeout) from None
            exc.record_handle = params.record_handle
            raise
        result.timings.http_answered = time.time()
