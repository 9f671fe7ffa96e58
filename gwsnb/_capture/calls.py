"""The GetChainedRecord calls of a capture, paired with their notifications by the client's own correlator.

The capture is replayed in time order through :class:`gwsnb._engine.correlate.Correlator` (the same
pairing a live client does, by referenceId and user-event expectations), with no settle or grace wait:
a capture is complete, nothing more will arrive.  A call is registered when its POST started, its HTTP
answer is read when the POST ended (a non-zero ``statusCode`` fails it with the typed error the client
raises), and each long-poll answer is fed when it ended (the instant the browser or proxy had its body,
the capture's equivalent of the client's receipt time).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Any

from .. import protocol
from .._engine.correlate import Correlator
from ..errors import GwsError, status_error
from ..results import CallTimings, ChainedRecordResult, Event
from .har import Entry

__all__ = ["CapturedCall", "replay_calls"]

_HANDLE = re.compile(r"/outbound-records/([^/?#]+)/?\Z")


class CapturedCall:
    """One GetChainedRecord POST found in a capture: its entry, its result and its error (if any)."""

    __slots__ = ("entry", "result", "error", "future")

    def __init__(self, entry: Entry, result: ChainedRecordResult, future: asyncio.Future[Any]) -> None:
        self.entry = entry
        self.result = result
        self.error: BaseException | None = None
        self.future = future

    @property
    def outcome(self) -> Any:
        """What :func:`gwsnb.frames.calls_frame` reads: the result, or the error carrying it."""
        return self.error if self.error is not None else self.result


def chained_record_request(entry: Entry) -> tuple[int, dict[str, Any]] | None:
    """``(record_handle, body)`` of a GetChainedRecord POST, else ``None``."""
    if entry.method != "POST" or "outbound-records" not in entry.path:
        return None
    body = entry.json_body("request")
    if not isinstance(body, dict) or body.get("operationName") != protocol.GET_CHAINED_RECORD:
        return None
    match = _HANDLE.search(entry.path)
    try:
        handle = int(match.group(1)) if match else int(body.get("recordHandle"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return handle, body


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _answer_error(entry: Entry) -> GwsError | None:
    """The typed error the client would raise for this HTTP answer, ``None`` for a success."""
    body = entry.json_body("response")
    if entry.status == 0:
        from ..errors import TransportError

        return TransportError(f"POST {entry.path}: no answer ({entry.error or 'failed'})", unreachable=True)
    if isinstance(body, dict) and "statusCode" in body:
        if body.get("statusCode") in (protocol.STATUS_OK, protocol.STATUS_PARTIAL_SUCCESS) and entry.status < 400:
            return None
        return status_error(body, http_status=entry.status)
    if entry.status >= 400:
        from ..errors import CsrfError, TransportError

        if entry.status == 403:
            return CsrfError(f"POST {entry.path}: HTTP 403 (CSRF token or session cookie refused)")
        return TransportError(f"POST {entry.path}: HTTP {entry.status}", http_status=entry.status)
    return None


def replay_calls(entries: Iterable[Entry]) -> list[CapturedCall]:
    """Every GetChainedRecord call of ``entries`` (sorted by start), paired with its notifications."""
    loop = asyncio.new_event_loop()
    try:
        return _replay(list(entries), loop)
    finally:
        loop.close()


def _timeline(entries: list[Entry]) -> list[tuple[float, int, int, Any]]:
    # (instant, order at the same instant, entry position, entry or received messages): a call is
    # registered before a notification of the same instant is fed, and answered after it
    steps: list[tuple[float, int, int, Any]] = []
    for position, entry in enumerate(entries):
        if chained_record_request(entry) is not None:
            steps.append((entry.started_s, 0, position, entry))
            steps.append((entry.ended_s, 2, position, entry))
        elif entry.is_bayeux:
            steps.extend((at, 1, position, messages) for direction, at, messages in entry.bayeux_frames()
                         if direction == "received")
    steps.sort(key=lambda step: step[:3])
    return steps


def _replay(entries: list[Entry], loop: asyncio.AbstractEventLoop) -> list[CapturedCall]:
    correlator = Correlator(settle=0.0, end_event_grace=0.0)
    correlator.operations = None
    calls: list[CapturedCall] = []
    open_calls: dict[int, tuple[CapturedCall, Any]] = {}
    for at, order, _, item in _timeline(entries):
        if order == 1:
            correlator.feed([Event(at, message) for message in item])  # a frame's received messages
        elif order == 0:
            entry = item
            handle, body = chained_record_request(entry)  # type: ignore[misc]
            reference = str(body.get("referenceId"))
            result = ChainedRecordResult(
                reference_id=reference, record_handle=handle, campaign_name=str(body.get("campaignName", "")),
                application_id=_as_int(body.get("applicationId")), device_path=str(body.get("devicePath", "")),
                timings=CallTimings(sent=at))
            future = loop.create_future()
            captured = CapturedCall(entry, result, future)
            try:
                handle_call = correlator.register(reference, handle, result.device_path, result, future)
            except GwsError:  # the same referenceId twice in flight: the second cannot be told apart
                captured.error = GwsError(f"referenceId {reference!r} sent again while in flight",
                                          result=result, record_handle=handle)
                calls.append(captured)
                continue
            open_calls[id(entry)] = (captured, handle_call)
            calls.append(captured)
        else:
            _answered(correlator, open_calls.pop(id(item), None), item, at)
    for _, handle_call in open_calls.values():
        correlator.discard(handle_call)
    for captured in calls:
        _finish(captured)
    return calls


def _answered(correlator: Correlator, pending: Any, entry: Entry, at: float) -> None:
    if pending is None:
        return
    captured, handle_call = pending
    captured.result.timings.http_answered = at
    error = _answer_error(entry)
    if error is not None:
        error.result, error.record_handle = captured.result, captured.result.record_handle
        captured.error = error
        correlator.discard(handle_call)


def _finish(captured: CapturedCall) -> None:
    """The call's outcome: its error, the correlator's verdict, or incomplete (no DataEnd in the capture)."""
    if captured.error is not None:
        return
    future = captured.future
    if future.done() and not future.cancelled() and future.exception() is not None:
        captured.error = future.exception()


def request_summary(entry: Entry) -> str:
    """``METHOD path`` and, for a GWS body, its operationName (for the text views)."""
    body = entry.json_body("request") if entry.request_body and entry.request_body[:1] == "{" else None
    operation = body.get("operationName") if isinstance(body, dict) else None
    return f"{entry.method} {entry.path}" + (f" ({operation})" if operation else "")


def envelope_status(entry: Entry) -> int | None:
    """The GWS envelope's ``statusCode`` of the answer, ``None`` when it has none."""
    if entry.is_bayeux:
        return None
    text = entry.response_text
    if not text or '"statusCode"' not in text:
        return None
    body = entry.json_body("response")
    code = body.get("statusCode") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None
