"""``gwsnb.connect()`` and :class:`GwsClient`: GetChainedRecord from a notebook cell, a script or asyncio.

The client owns a background thread running its own asyncio loop.  The async core (REST over aiohttp,
CometD, correlation: see docs/gws-flow.md) runs there; ``get_chained_record`` submits to it and waits with
a timeout, ``await get_chained_record_async`` awaits it from any other loop.  So the blocking API works in
a Jupyter kernel whose loop is already running, with or without ``nest_asyncio``.  The lifecycle has both
forms too: :func:`connect` / :meth:`GwsClient.close` / ``with``, and :func:`connect_async` /
:meth:`GwsClient.aclose` / ``async with``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import getpass
import itertools
import logging
import os
import random
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from . import protocol
from ._engine.bulk import (
    MAX_BATCH_HANDLES,
    MAX_OUTAGE_S,
    MAX_RETRIES,
    MAX_STREAMED_HANDLES,
    UNAVAILABLE_HTTP,
    BatchRun,
    ClientHooks,
    run_async,
    run_blocking,
)
from ._engine.clock import ClockEstimator, ClockOffset, DateHeaderClock
from ._engine.correlate import Correlator, Resend
from ._engine.watch import OwnReferences
from ._wire.cometd import CometdSession
from ._wire.eventlog import DEFAULT_EVENT_LOG_BYTES, EventLog
from ._wire.loop import LoopThread, LoopTimeout
from ._wire.rest import RestSession, check_base_url
from .batch import ChainedRecordBatch
from .errors import (
    DeviceSelectionError,
    GwsError,
    InvalidParameterError,
    NotificationTimeout,
    OutcomeUnknownError,
    ServerUnavailableError,
    TransportError,
)
from .operations import RecordOperations
from .pace import Pace, resolve_pace
from .params import ChainedRecordParams, check_int, check_timeout, expand_folder, parse_handles
from .results import CallTimings, ChainedRecordResult

if sys.version_info >= (3, 11):
    from asyncio import timeout_at
else:  # aiohttp depends on async-timeout below 3.11
    from async_timeout import timeout_at

if TYPE_CHECKING:
    import pandas as pd

    from ._capture.writer import HarRecorder
    from .plan import Plan
    from .runs import Run, RunWriter
    from .watch import Watch

__all__ = ["connect", "connect_async", "GwsClient", "Device"]

LOGGER = logging.getLogger(__name__)
#: the largest event log a client keeps (messages): beyond it the ring would be memory, not a log
_MAX_EVENT_LOG_SIZE = 100_000_000
#: the largest byte budget of an event log (64 GiB): a guard against a unit mistake, not a recommendation
_MAX_EVENT_LOG_BYTES = 2**36
#: extra seconds a blocking caller waits beyond the call's own timeout before giving up on the loop
_BLOCKING_MARGIN = 5.0
#: times one GetChainedRecord is sent again because its answer was lost with the CometD session
MAX_RESENDS = 3
#: seconds closing may take on the client's loop (CometD disconnect, EndContactCenterSession)
_CLOSE_TIMEOUT = 15.0


def _caller_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@dataclass(frozen=True)
class Device:
    """One of the user's devices (``GET /me/devices``); ``path`` is the ``devicePath`` to send."""

    id: str
    phone_number: str | None = None
    state: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def path(self) -> str:
        return f"/devices/{self.id}"

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Device:
        state = obj.get("deviceState")
        phone = obj.get("phoneNumber")
        return cls(id=str(obj.get("id")), phone_number=None if phone is None else str(phone),
                   state=None if state is None else str(state), raw=obj)


class GwsClient(RecordOperations):
    """A logged-in GWS session with its CometD notifications.  Create it with :func:`connect`.

    Read-only unless ``allow_writes=True`` (or the environment variable ``GWS_ALLOW_WRITES=1``): the record
    operations (:mod:`gwsnb.operations`) raise :class:`~gwsnb.errors.WritesNotAllowedError` otherwise.

    Attributes: ``url``, ``username``, ``timeout`` (default per call), ``me`` (the ``user`` object of
    ``GET /me``), ``devices`` (list of :class:`Device`), ``event_log`` (the newest CometD messages received,
    ``/meta`` included, kept raw within ``event_log_bytes``; ``event_log.dropped`` counts overflow; see
    docs/engine.md),
    ``unmatched_events`` (notifications that matched no call), ``capture_recorder`` (the HAR writer of
    ``capture=``, or ``None``; docs/captures.md).
    """

    def __init__(self, url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 30.0, notifications_path: str = protocol.NOTIFICATIONS_PATH,
                 start_session: bool = True, event_log_bytes: int = DEFAULT_EVENT_LOG_BYTES,
                 event_log_size: int | None = None,
                 allow_writes: bool | None = None, capture: str | os.PathLike[str] | None = None,
                 capture_secrets: bool = False) -> None:
        self.url = check_base_url(url)
        #: gwsnb's own HAR of this client's traffic (``capture=``), written on close (docs/captures.md)
        self.capture_recorder = _capture_recorder(capture, capture_secrets)
        if allow_writes is not None and not isinstance(allow_writes, bool):
            raise InvalidParameterError("allow_writes", allow_writes, "expected True, False or None")
        #: the record operations may be sent (see gwsnb.operations); None takes GWS_ALLOW_WRITES=1
        self.allow_writes = allow_writes if allow_writes is not None else os.environ.get("GWS_ALLOW_WRITES") == "1"
        if not isinstance(username, str) or not username:
            raise InvalidParameterError("username", username, "expected a non-empty string")
        if not isinstance(password, str):
            raise InvalidParameterError("password", "<hidden>", "expected a string")
        self.username = username
        self.timeout = check_timeout("timeout", timeout)
        if not isinstance(notifications_path, str) or not (
                notifications_path.startswith("/") or notifications_path.startswith(("http://", "https://"))):
            raise InvalidParameterError("notifications_path", notifications_path,
                                        "expected a path like '/notifications' or a full URL")
        self.notifications_url = (notifications_path if notifications_path.startswith("http")
                                  else self.url + notifications_path)
        check_int("event_log_bytes", event_log_bytes, 0, _MAX_EVENT_LOG_BYTES)
        if event_log_size is not None:
            check_int("event_log_size", event_log_size, 1, _MAX_EVENT_LOG_SIZE)
            warnings.warn("gwsnb.connect(event_log_size=...) is deprecated: the event log is bounded in bytes, "
                          "pass event_log_bytes= (event_log_size is still honoured, as a cap on the messages "
                          "kept)", DeprecationWarning, stacklevel=3)
        self.start_session = start_session
        self.me: dict[str, Any] = {}
        self.devices: list[Device] = []
        self.event_log = EventLog(event_log_bytes, max_messages=event_log_size)
        self._rest = RestSession(self.url, username, password, verify=verify, timeout=self.timeout)
        self._rest.recorder = self.capture_recorder
        self._correlator = Correlator()
        # referenceIds of our own: a random prefix per client and a counter (no system call per call)
        self._reference_prefix = f"gwsnb-{uuid.uuid4().hex[:16]}-"
        self._references = itertools.count(1)
        #: the referenceIds this client sent (a live watch tells ours from foreign ones with it)
        self._own_references = OwnReferences(self._reference_prefix)
        #: the server's clock against ours: every answered call's user events narrow it (docs/watch.md)
        self._clock = ClockEstimator()
        self._date_clock = DateHeaderClock()
        self._loop: LoopThread | None = None
        self._cometd: CometdSession | None = None
        self._session_started = False
        self._closed = False
        self._closing: concurrent.futures.Future[None] | None = None
        self._close_lock = threading.Lock()
        #: blocking get_chained_record calls waiting in other threads (read by the CometD session)
        self._blocked = 0
        self._blocked_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<GwsClient {self.url!r} user={self.username!r} devices={len(self.devices)} {state}>"

    # --- lifecycle ------------------------------------------------------------------------------
    def _open(self) -> GwsClient:
        self._loop = LoopThread()
        try:
            self._loop.run(self._open_async(), self.timeout * 3 + _BLOCKING_MARGIN)
        except LoopTimeout:
            self.close()
            raise TransportError(f"connecting to {self.url} did not finish in time") from None
        except BaseException:
            self.close()
            raise
        return self

    async def _open_from_caller(self) -> GwsClient:
        """:meth:`_open` for an asyncio caller: its loop keeps running while the client connects."""
        self._loop = LoopThread()
        try:
            opening = asyncio.wrap_future(self._loop.submit(self._open_async()))
            await asyncio.wait_for(opening, self.timeout * 3 + _BLOCKING_MARGIN)
        except asyncio.TimeoutError:
            await self.aclose()
            raise TransportError(f"connecting to {self.url} did not finish in time") from None
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _open_async(self) -> None:
        await self._rest.open()
        self._rest.on_answer = self._date_clock.add
        self.me = await self._rest.login()
        self.devices = await self._fetch_devices()
        if self.start_session:
            await self._start_cc_session()
            self._rest.after_relogin = self._after_relogin
        self._cometd = CometdSession(
            self.notifications_url, channels=(protocol.CHANNEL_OUTBOUND,), http=self._rest.http,
            headers=self._rest.csrf_headers, refresh=self._refresh_async, on_messages=self._correlator.feed,
            event_log=self.event_log, proxy=self._rest.proxy)
        self._cometd.threads_waiting = self._threads_waiting
        self._cometd.recorder = self.capture_recorder
        self._cometd.on_new_session = self._on_new_session
        await self._cometd.open(self.timeout)
        self._rest.before_retry = self._wait_cometd_on_new_session

    async def _fetch_devices(self) -> list[Device]:
        body = await self._rest.get("/me/devices")
        devices = body.get("devices")
        return [Device.from_json(d) for d in devices if isinstance(d, dict)] if isinstance(devices, list) else []

    async def _start_cc_session(self) -> None:
        await self._rest.post("/me", {"operationName": protocol.START_CONTACT_CENTER_SESSION,
                                      "channels": ["voice"]}, relogin=False)
        self._session_started = True

    async def _after_relogin(self) -> None:
        # a new HTTP session (server restart, expiry) has no contact-center session yet
        try:
            await self._start_cc_session()
        except GwsError as exc:
            LOGGER.warning("restarting the contact-center session failed: %s", exc)

    async def _wait_cometd_on_new_session(self) -> None:
        # Awaited after the re-login of a refused POST, before it is resent: GWS delivers the resent
        # request's notifications to the *new* HTTP session, so CometD must have re-handshaked on it first.
        # Not in after_relogin: CometD's own re-login awaits that one, and would wait for itself.
        cometd = self._cometd
        if cometd is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.timeout, 10.0)
        while loop.time() < deadline and not cometd.riding(self._rest.cookies()):
            await asyncio.sleep(0.02)

    def _threads_waiting(self) -> bool:
        return self._blocked > 0

    async def _probe_server(self) -> bool:
        """Whether the server answers HTTP at all (any status but 502/503/504), without touching the
        session: the bulk engine's outage gate calls it while the server is unreachable.  The session
        itself is re-established by the REST layer's re-login and CometD's re-handshake."""
        status = await self._rest.probe()
        return status is not None and status not in UNAVAILABLE_HTTP

    async def _refresh_async(self) -> None:
        await self._rest.relogin(self._rest.generation)

    def _begin_close(self) -> concurrent.futures.Future[None]:
        """Start closing (once) on a helper thread; the future is done when the loop thread has stopped."""
        with self._close_lock:
            if self._closing is not None:
                return self._closing
            self._closed = True
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._closing = done
        threading.Thread(target=self._finish_close, args=(done,), name="gwsnb-close", daemon=True).start()
        return done

    def _finish_close(self, done: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        try:
            if loop is not None and loop.running:
                try:
                    loop.run(self._close_async(), _CLOSE_TIMEOUT)
                except Exception as exc:  # closing must not fail
                    LOGGER.debug("close: %s", exc)
                loop.stop()
        finally:
            self._save_capture()
            done.set_result(None)

    def _save_capture(self) -> None:
        recorder = self.capture_recorder
        if recorder is None:
            return
        try:
            recorder.close()
        except Exception as exc:  # closing must not fail; the capture is evidence, say it is missing
            LOGGER.warning("the capture %s could not be written: %s", recorder.path, exc)

    def close(self) -> None:
        """End the contact-center session (if this client started it), close CometD, stop the loop thread.

        Idempotent; never raises for a server that is already gone.  Called from a thread whose asyncio
        loop is running (an ``async def``, a Jupyter cell), it only starts closing and returns at once,
        so that loop is never blocked: ``await client.aclose()`` there waits for the end.
        """
        done = self._begin_close()
        if _caller_loop_running():
            return
        with contextlib.suppress(concurrent.futures.TimeoutError):
            done.result(_CLOSE_TIMEOUT + 10.0)

    async def aclose(self) -> None:
        """The awaitable :meth:`close`: the caller's loop runs on while the client closes.  Idempotent."""
        done = self._begin_close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(done)), _CLOSE_TIMEOUT + 10.0)

    async def _close_async(self) -> None:
        self._correlator.fail_all(lambda call: TransportError(
            "the client was closed while the call was waiting", result=call.result,
            record_handle=call.record_handle))
        if self._correlator.operations is not None:
            self._correlator.operations.fail_all(lambda waiter: TransportError(
                "the client was closed while the operation was waiting", record_handle=waiter.record_handle))
        if self._cometd is not None:
            await self._cometd.close(5.0)
        if self._session_started:
            try:
                await asyncio.wait_for(self._rest.post(
                    "/me", {"operationName": protocol.END_CONTACT_CENTER_SESSION}, relogin=False), 5.0)
            except (GwsError, asyncio.TimeoutError) as exc:
                LOGGER.debug("EndContactCenterSession: %s", exc)
            self._session_started = False
        await self._rest.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> GwsClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> GwsClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    # --- information ----------------------------------------------------------------------------
    @property
    def unmatched_events(self) -> int:
        return self._correlator.unmatched

    @property
    def cometd_connected(self) -> bool:
        return self._cometd is not None and self._cometd.connected.is_set()

    @property
    def connection_state(self) -> str:
        """CometD state: ``connecting``, ``connected``, ``unresponsive`` (a long-poll got no answer within
        the server's advised timeout: the server is silent), ``reconnecting`` or ``closed``."""
        return self._cometd.state if self._cometd is not None else "closed"

    @property
    def unanswered_polls(self) -> int:
        """Long-polls the server left unanswered past its advised timeout (silent-server episodes)."""
        return self._cometd.unanswered_polls if self._cometd is not None else 0

    @property
    def handshakes(self) -> int:
        """CometD handshakes sent so far (1 + re-handshakes)."""
        return self._cometd.handshakes if self._cometd is not None else 0

    @property
    def clock_offset(self) -> ClockOffset | None:
        """The server's clock minus ours as an interval (``low_ms``, ``high_ms``, ``samples``), narrowed by
        every answered call's notifications; ``None`` before the first.  See docs/watch.md."""
        return self._clock.offset

    @property
    def clock_offset_date(self) -> ClockOffset | None:
        """The same offset from the HTTP ``Date`` headers (1 s resolution, maybe a balancer's clock): a
        coarse cross-check of :attr:`clock_offset`; ``None`` before the first answer with one."""
        return self._date_clock.offset

    def watch(self, *, rows: int = 25, interval: float = 0.25, buffer: int = 5000) -> Watch:
        """A live view of this client's CometD session in a notebook: the messages as they arrive
        (channel, types, referenceId ours / foreign / none, delivery delay) and alerts (402, gaps,
        cut connects, foreign referenceIds, multiple-clients), redrawn at most every ``interval`` seconds
        from a bounded buffer of ``buffer`` messages.  ``watch.stop()`` or its button ends it;
        ``watch.frame()`` gives its rows.  See :mod:`gwsnb.watch` and docs/watch.md.

        :raises InvalidParameterError: a bad ``rows``, ``interval`` or ``buffer``.
        :raises TransportError: the client is closed.
        """
        from .watch import Watch

        if self._closed:
            raise TransportError("the client is closed")
        return Watch(self._cometd, self._loop, self._own_references, lambda: self.clock_offset, rows=rows,
                     interval=interval, buffer=buffer)

    def events_frame(self) -> pd.DataFrame:
        """The raw event log as a DataFrame (see :func:`gwsnb.frames.events_frame`)."""
        from . import frames

        return frames.events_frame(self.event_log.snapshot())

    # --- GetChainedRecord -----------------------------------------------------------------------
    def _prepare(self, record_handle: Any, campaign_name: Any, application_id: Any, device_path: Any,
                 reference_id: Any, timeout: Any) -> tuple[ChainedRecordParams, str]:
        if self._closed:
            raise TransportError("the client is closed")
        params = ChainedRecordParams(record_handle, campaign_name, application_id, device_path,
                                     reference_id, timeout).validate()
        if params.device_path is not None:
            return params, params.device_path
        choices = [d.path for d in self.devices]
        if len(choices) == 1:
            return params, choices[0]
        if not choices:
            raise DeviceSelectionError("the user has no device; pass device_path", choices)
        raise DeviceSelectionError(f"the user has {len(choices)} devices; pass device_path, one of {choices}",
                                   choices)

    def get_chained_record(self, record_handle: int, *, campaign_name: str, application_id: int,
                           device_path: str | None = None, reference_id: str | int | None = None,
                           timeout: float | None = None) -> ChainedRecordResult:
        """Send GetChainedRecord and wait for the chain (blocking; safe in a running Jupyter kernel).

        When CometD comes back on a new session while the call waits (a server outage or restart: GWS does
        not replay what it published for the old one), the request is sent again at once under a new
        referenceId, with a new deadline (docs/engine.md, "Outages").

        :param timeout: seconds until ChainedRecordsDataEnd (default: the client's ``timeout``)
        :raises InvalidParameterError: a bad parameter (nothing was sent); ``DeviceSelectionError`` when
            ``device_path`` is needed.
        :raises GwsStatusError: the POST was answered with a non-zero statusCode (typed subclass).
        :raises ChainedRecordError: the server sent the ``Error`` notification.
        :raises NotificationTimeout: no ChainedRecordsDataEnd in time.
        :raises TransportError: network failure or closed client.
        Errors raised after sending carry ``.result`` (partial) and ``.record_handle``.
        """
        params, device = self._prepare(record_handle, campaign_name, application_id, device_path,
                                       reference_id, timeout)
        if self._loop is None:
            raise TransportError("the client is not connected")
        # each resend after an outage starts a new deadline (see _get_chained_record)
        wait = (params.timeout or self.timeout) * (MAX_RESENDS + 1) + _BLOCKING_MARGIN
        with self._blocked_lock:
            self._blocked += 1
        try:
            return self._loop.run(self._get_chained_record(params, device), wait)
        except LoopTimeout:
            raise NotificationTimeout(
                f"GetChainedRecord for handle {params.record_handle}: the client loop did not answer in {wait} s",
                record_handle=params.record_handle) from None
        finally:
            with self._blocked_lock:
                self._blocked -= 1

    async def get_chained_record_async(self, record_handle: int, *, campaign_name: str, application_id: int,
                                       device_path: str | None = None, reference_id: str | int | None = None,
                                       timeout: float | None = None) -> ChainedRecordResult:
        """The awaitable twin of :meth:`get_chained_record` (same parameters, result and errors).

        Awaitable from any event loop; the work runs on the client's own loop.
        """
        params, device = self._prepare(record_handle, campaign_name, application_id, device_path,
                                       reference_id, timeout)
        if self._loop is None:
            raise TransportError("the client is not connected")
        core = self._get_chained_record(params, device)
        if self._loop.in_loop_thread():
            return await core
        with self._blocked_lock:  # the caller's loop runs in another thread: it waits like a blocking caller
            self._blocked += 1
        try:
            return await asyncio.wrap_future(self._loop.submit(core))
        finally:
            with self._blocked_lock:
                self._blocked -= 1

    async def _get_chained_record(self, params: ChainedRecordParams, device_path: str) -> ChainedRecordResult:
        """One GetChainedRecord on the client's loop: register, POST, await the correlator's verdict.

        Used by the bulk engine too (``BatchRun.call``): errors raised after sending carry ``.result`` and
        ``.record_handle``; :class:`NotificationTimeout` when the deadline passes.  A call whose answer can
        no longer arrive because CometD came back on a new session (an outage, a restart, a re-login) is
        sent again at once under a new referenceId, with a new deadline, at most :data:`MAX_RESENDS` times;
        a late answer to the old referenceId is ignored (docs/engine.md, "Outages").
        """
        reference_id = params.reference_id if params.reference_id is not None else self._next_reference()
        resends = 0
        while True:
            try:
                return await self._attempt(params, device_path, reference_id, resendable=resends < MAX_RESENDS)
            except Resend:
                resends += 1
                reference_id = self._next_reference()
                LOGGER.info("GetChainedRecord for handle %s: its answer was lost with the CometD session; "
                            "sent again as %s", params.record_handle, reference_id)

    async def _attempt(self, params: ChainedRecordParams, device_path: str, reference_id: str | int, *,
                       resendable: bool) -> ChainedRecordResult:
        loop = asyncio.get_running_loop()
        timeout = params.timeout or self.timeout
        deadline = loop.time() + timeout
        handle = params.record_handle
        result = ChainedRecordResult(
            reference_id=str(reference_id), record_handle=handle, campaign_name=params.campaign_name,
            application_id=params.application_id, device_path=device_path, timings=CallTimings(sent=time.time()))
        future: asyncio.Future[ChainedRecordResult] = loop.create_future()
        # registered before the POST: notifications can arrive before the HTTP answer
        call = self._correlator.register(reference_id, handle, device_path, result, future)
        if params.reference_id is not None:
            self._own_references.add(reference_id)
        answered = resent = False
        try:
            async with timeout_at(deadline):
                epoch, generation = self._session_epoch(), self._rest.generation
                await self._rest.post(f"/me/outbound-records/{handle}", params.request_body(reference_id, device_path))
                answered = True
                result.timings.http_answered = time.time()
                if resendable:
                    # a new CometD session during the POST (not one the POST's own re-login waited for):
                    # the answer may have been published to the old one
                    if self._session_epoch() != epoch and self._rest.generation == generation:
                        raise Resend()
                    call.epoch = self._session_epoch()  # Correlator.session_lost resends it from now on
                return await future
        except Resend:
            resent = True
            raise
        except asyncio.TimeoutError:
            raise self._timeout_error(result, handle, timeout, answered) from None
        except GwsError as exc:
            if not answered and isinstance(exc, TransportError) and loop.time() >= deadline:
                # the HTTP timer (the client's timeout) came due in the same loop iteration as the call's
                # deadline (a starved loop): aiohttp's, the inner one, wins though the call's came first
                raise self._timeout_error(result, handle, timeout, answered) from None
            exc.result, exc.record_handle = result, handle
            raise
        finally:
            if not future.done():
                future.cancel()
            if resent:
                self._correlator.abandon(call)
            else:
                self._correlator.discard(call)
            if result.user_events:  # each bounds the server's clock: generated after the POST, before receipt
                self._clock.add_user_events(result.timings.sent, result.user_events)

    def _session_epoch(self) -> int:
        return self._cometd.epoch if self._cometd is not None else 0

    def _on_new_session(self, epoch: int) -> None:
        """CometD subscribed a new client: what was published for the old one is lost.  GetChainedRecord
        calls answered before are sent again (they only read); record operations fail, outcome unknown."""
        resent = self._correlator.session_lost(epoch)
        unknown = 0
        if self._correlator.operations is not None:
            unknown = self._correlator.operations.session_lost(epoch, lambda w: OutcomeUnknownError(
                w.operation, reference_id=w.key, operation_result=w.result, record_handle=w.record_handle))
        if resent or unknown:
            LOGGER.warning("CometD: new session (%d): %d GetChainedRecord call(s) in flight sent again, %d record "
                           "operation(s) failed with an unknown outcome", epoch, resent, unknown)

    def _next_reference(self) -> str:
        return f"{self._reference_prefix}{next(self._references)}"

    def _timeout_error(self, result: ChainedRecordResult, handle: int, timeout: float,
                       answered: bool) -> NotificationTimeout:
        if not answered:
            return NotificationTimeout(f"GetChainedRecord for handle {handle}: no HTTP answer within {timeout} s",
                                       result=result, record_handle=handle)
        connected = "connected" if self.cometd_connected else "disconnected"
        return NotificationTimeout(
            f"GetChainedRecord for handle {handle}: no ChainedRecordsDataEnd within {timeout} s "
            f"({len(result.records)} record(s), {len(result.events)} event(s) received; CometD {connected})",
            result=result, record_handle=handle)

    # --- many handles ---------------------------------------------------------------------------
    def _prepare_batch(self, handles: Any, campaign_name: Any, application_id: Any, device_path: Any,
                       concurrency: Any, timeout: Any, retries: Any, fail_fast: Any, *, keep_events: Any = False,
                       max_outage: Any = MAX_OUTAGE_S, out: Any = None,
                       every_handle: Any = False, pace: Pace) -> tuple[BatchRun, RunWriter | None]:
        handle_list = parse_handles(handles, limit=MAX_BATCH_HANDLES if out is None else MAX_STREAMED_HANDLES)
        params, device = self._prepare(handle_list[0], campaign_name, application_id, device_path, None, timeout)
        retries = check_int("retries", retries, 0, MAX_RETRIES)
        max_outage = check_timeout("max_outage", max_outage)
        for name, flag in (("fail_fast", fail_fast), ("keep_events", keep_events), ("every_handle", every_handle)):
            if not isinstance(flag, bool):
                raise InvalidParameterError(name, flag, "expected True or False")
        if out is not None and keep_events:
            raise InvalidParameterError("keep_events", keep_events, "a streamed run (out=) keeps no raw events")
        if self._loop is None:
            raise TransportError("the client is not connected")
        writer = None
        if out is not None:
            if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
                raise InvalidParameterError("out", out, "expected a folder path")
            out = expand_folder("out", out)  # runs/{now:%Y%m%dT%H%M}: a snapshot's folder (docs/history.md)
            from .runs import RunWriter

            writer = RunWriter.open(out, handle_list, campaign_name=params.campaign_name,
                                    application_id=params.application_id, device_path=device)
            handle_list = writer.remaining(handle_list)
        hooks = ClientHooks(call=self._get_chained_record, closed=lambda: self._closed,
                            connected=lambda: self.cometd_connected, probe=self._probe_server)
        run = BatchRun(handle_list, params, device, concurrency=pace.workers, retries=retries, fail_fast=fail_fast,
                       hooks=hooks, keep_events=keep_events, max_outage=max_outage, sink=writer,
                       every_handle=every_handle, pace=pace)
        if writer is not None:
            writer.load = run.pacer.load  # written to the run's load/ folder when the writer closes
        return run, writer

    @overload
    def get_chained_records(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                            application_id: int, device_path: str | None = None, concurrency: int | Literal["auto"] | None = None,
                            timeout: float | None = None, progress: Any = True, retries: int = 2,
                            fail_fast: bool = False, keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                            out: None = None, every_handle: bool = False,
                            pace: Pace | None = None, rate: float | None = None, max_calls: int | None = None) -> ChainedRecordBatch: ...

    @overload
    def get_chained_records(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                            application_id: int, device_path: str | None = None, concurrency: int | Literal["auto"] | None = None,
                            timeout: float | None = None, progress: Any = True, retries: int = 2,
                            fail_fast: bool = False, keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                            out: str | os.PathLike[str], every_handle: bool = False,
                            pace: Pace | None = None, rate: float | None = None, max_calls: int | None = None) -> Run: ...

    def get_chained_records(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                            application_id: int, device_path: str | None = None, concurrency: int | Literal["auto"] | None = None,
                            timeout: float | None = None, progress: Any = True, retries: int = 2,
                            fail_fast: bool = False, keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                            out: str | os.PathLike[str] | None = None,
                            every_handle: bool = False, pace: Pace | None = None, rate: float | None = None,
                            max_calls: int | None = None) -> ChainedRecordBatch | Run:
        """GetChainedRecord for many record handles over the one CometD session, ``concurrency`` at a time.

        Blocking (safe in a running Jupyter kernel).  Every argument is validated before anything is sent.
        A failed handle does not stop the batch: it is collected in ``batch.failures`` with its error and
        attempt count.  A call whose notifications were lost (:class:`NotificationTimeout`,
        :class:`TransportError`) is retried up to ``retries`` times after an exponential backoff with
        jitter (0.5 s, 1 s, 2 s ... capped at 8 s, each between half and all of the step); a server verdict
        (:class:`ChainedRecordError`, :class:`GwsStatusError`) is final.  ``result.attempts`` and
        ``failure.attempts`` count the attempts made.

        **Outages.**  When the server cannot be reached (connection refused or reset, HTTP 502/503/504,
        CometD disconnected), the whole run pauses instead of spending the handles' retries: it probes the
        server about once a second, waits for the session and CometD to be back, and goes on; the calls
        that were waiting for their notifications when CometD came back on a new session are sent again at
        once, without spending a retry (docs/engine.md, "Outages"); the progress bar
        says it is waiting and for how long.  Past ``max_outage`` seconds it stops cleanly and raises
        :class:`~gwsnb.errors.ServerUnavailableError`, whose ``batch`` holds what was done (the handles
        not finished are in ``skipped``; a streamed run can be resumed).

        **Each chain once.**  GetChainedRecord answers any handle with its whole chain, so by default the
        handles are called in a strided order and a handle already seen in another call's chain is not
        called (see ``every_handle``).

        **Streaming.**  With ``out`` (a folder), the results are not kept in memory but written as they
        come to a Parquet dataset there (see :mod:`gwsnb.runs`), and the return value is the run read
        back (:class:`gwsnb.runs.Run`, as :func:`gwsnb.open_run` gives).  Calling again with the same
        ``out`` (same campaign, application id, device and handles; anything else is refused) resumes
        it: the handles already written are skipped.

        Ctrl-C (KeyboardInterrupt) stops the run cleanly: the calls in flight are cancelled and the
        *partial* batch is returned with ``interrupted=True`` (what finished is kept; the rest is in
        ``skipped``), so a notebook cell keeps its result.  The batch is also returned, partial and
        interrupted, if the client is closed during the run.

        :param handles: ints, digit strings, or a string like ``"7, 9, 20-30"`` (see :func:`gwsnb.parse_handles`);
            duplicates are dropped, the order is kept.
        :param timeout: seconds until ChainedRecordsDataEnd, per attempt (default: the client's ``timeout``)
        :param progress: ``True`` for a ``tqdm.auto`` bar (notebook widget or terminal), ``False`` for none,
            or a tqdm-like object of yours (``update()``, ``set_postfix()`` and, when it has one,
            ``set_description()`` are called; you close it).
        :param retries: further attempts for a call whose notifications were lost (0 to 10).
        :param fail_fast: stop at the first failed handle (after its retries): the calls in flight are
            cancelled and listed, with the handles not started, in ``batch.skipped``.
        :param keep_events: keep every raw event of every call (``result.events``); by default a batch is
            lean (see :mod:`gwsnb.batch`): same frames, a fraction of the memory.
        :param max_outage: seconds the run waits for an unreachable server before it stops (default 600).
        :param out: a folder to stream the run to (needs pyarrow: ``pip install gwsnb[parquet]``).
        :param every_handle: call every handle.  By default a handle whose record already came back in
            another handle's chain in this run is not called: it is *covered* (``batch.covered``, status
            ``covered`` and ``covered_by`` in the calls table) and its records are that chain's, so each
            chain is fetched once and the frames hold each record once (``docs/engine.md``, "Each chain once").
        :param pace: a :class:`gwsnb.Pace`: calls in flight (a number or ``"auto"``), a rate cap, a budget of
            calls, working windows (``docs/production.md``).  Default: 16 calls in flight, no cap.
        :param concurrency: shortcut for ``pace.concurrency`` (an int 1..1024 or ``"auto"``; default 16).
        :param rate: shortcut for ``pace.rate``: calls per second across the whole run.
        :param max_calls: shortcut for ``pace.max_calls``: the calls the run may send, retries included; the
            run then stops cleanly (``batch.stopped_by == "max_calls"``, the rest in ``skipped``; a streamed
            run resumes where it stopped).  A shortcut fills a field the pace leaves at its default; one
            that contradicts the pace is refused.
        :raises InvalidParameterError: a bad argument (field ``record_handles``, ``campaign_name``,
            ``concurrency``, ``out``...); nothing was sent.  ``DeviceSelectionError`` when ``device_path``
            is needed.
        :raises ServerUnavailableError: the server stayed unreachable longer than ``max_outage``.
        :raises TransportError: the client is closed.
        """
        run, writer = self._prepare_batch(handles, campaign_name, application_id, device_path, concurrency,
                                          timeout, retries, fail_fast, keep_events=keep_events,
                                          max_outage=max_outage, out=out, every_handle=every_handle,
                                          pace=resolve_pace(pace, concurrency=concurrency, rate=rate,
                                                            max_calls=max_calls))
        assert self._loop is not None
        if writer is None:
            return run_blocking(self._loop, run, progress)
        writer.start()
        try:
            batch = run_blocking(self._loop, run, progress)
        except ServerUnavailableError as exc:
            writer.close()
            exc.batch = writer.run(elapsed_s=time.monotonic() - run.started)
            raise
        except BaseException:
            writer.close()
            raise
        writer.close()
        return writer.run(interrupted=batch.interrupted, elapsed_s=batch.elapsed_s, stopped_by=run.stopped_by,
                          calls_sent=run.pacer.sent, load=run.pacer.load)

    @overload
    async def get_chained_records_async(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                                        application_id: int, device_path: str | None = None,
                                        concurrency: int | Literal["auto"] | None = None, timeout: float | None = None,
                                        progress: Any = True, retries: int = 2, fail_fast: bool = False,
                                        keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                                        out: None = None, every_handle: bool = False,
                            pace: Pace | None = None, rate: float | None = None, max_calls: int | None = None) -> ChainedRecordBatch: ...

    @overload
    async def get_chained_records_async(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                                        application_id: int, device_path: str | None = None,
                                        concurrency: int | Literal["auto"] | None = None, timeout: float | None = None,
                                        progress: Any = True, retries: int = 2, fail_fast: bool = False,
                                        keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                                        out: str | os.PathLike[str], every_handle: bool = False,
                            pace: Pace | None = None, rate: float | None = None, max_calls: int | None = None) -> Run: ...

    async def get_chained_records_async(self, handles: Iterable[int | str] | str | int, *, campaign_name: str,
                                        application_id: int, device_path: str | None = None,
                                        concurrency: int | Literal["auto"] | None = None, timeout: float | None = None,
                                        progress: Any = True, retries: int = 2, fail_fast: bool = False,
                                        keep_events: bool = False, max_outage: float = MAX_OUTAGE_S,
                                        out: str | os.PathLike[str] | None = None,
                                        every_handle: bool = False, pace: Pace | None = None,
                                        rate: float | None = None,
                                        max_calls: int | None = None) -> ChainedRecordBatch | Run:
        """The awaitable twin of :meth:`get_chained_records` (same parameters, result and errors).

        Awaitable from any event loop; the calls run on the client's own loop and the progress bar is
        advanced on the caller's loop.  Cancelling the awaiting task cancels the calls in flight, waits
        for them to unwind and re-raises :class:`asyncio.CancelledError` (asyncio's contract) with the
        partial batch (``interrupted=True``; for a streamed run, the run read back) attached as its
        ``batch`` attribute.  (On Python 3.10, ``await task`` raises a fresh ``CancelledError`` chained to
        that one: read ``exc.__context__.batch`` there.)
        """
        run, writer = self._prepare_batch(handles, campaign_name, application_id, device_path, concurrency,
                                          timeout, retries, fail_fast, keep_events=keep_events,
                                          max_outage=max_outage, out=out, every_handle=every_handle,
                                          pace=resolve_pace(pace, concurrency=concurrency, rate=rate,
                                                            max_calls=max_calls))
        assert self._loop is not None
        if writer is None:
            return await run_async(self._loop, run, progress)
        writer.start()
        try:
            batch = await run_async(self._loop, run, progress)
        except (ServerUnavailableError, asyncio.CancelledError) as exc:
            await asyncio.to_thread(writer.close)
            exc.batch = writer.run(interrupted=isinstance(exc, asyncio.CancelledError),  # type: ignore[union-attr]
                                   elapsed_s=time.monotonic() - run.started)
            raise
        except BaseException:
            await asyncio.to_thread(writer.close)
            raise
        await asyncio.to_thread(writer.close)
        return writer.run(interrupted=batch.interrupted, elapsed_s=batch.elapsed_s, stopped_by=run.stopped_by,
                          calls_sent=run.pacer.sent, load=run.pacer.load)


    def plan(self, handles: Iterable[int | str] | str | int, *, campaign_name: str, application_id: int,
             device_path: str | None = None, pace: Pace | None = None,
             concurrency: int | Literal["auto"] | None = None, rate: float | None = None,
             max_calls: int | None = None, sample: int = 200, every_handle: bool = False,
             seed: int | None = None) -> Plan:
        """What :meth:`get_chained_records` would do with these arguments, from a small sample: the calls
        (each chain once), the rate and concurrency that apply, the expected duration and the windows it
        falls in (:class:`gwsnb.plan.Plan`; ``docs/production.md``).

        Nothing is called but ``sample`` handles drawn at random (``seed`` repeats a draw), every one of
        them, now, at the pace's rate and at most 16 at a time (the pace's window and budget do not apply
        to the sample); ``sample=0`` calls nothing (then every handle counts as a call and the duration
        comes from the rate alone).

        :raises InvalidParameterError: a bad argument (as :meth:`get_chained_records`; ``sample`` 0..10000).
        """
        from .plan import make_plan

        resolved = resolve_pace(pace, concurrency=concurrency, rate=rate, max_calls=max_calls)
        count = check_int("sample", sample, 0, 10_000)
        if not isinstance(every_handle, bool):
            raise InvalidParameterError("every_handle", every_handle, "expected True or False")
        handle_list = parse_handles(handles, limit=MAX_STREAMED_HANDLES)
        self._prepare(handle_list[0], campaign_name, application_id, device_path, None, None)
        picked = random.Random(seed).sample(handle_list, min(count, len(handle_list)))
        results: list[ChainedRecordResult] = []
        if picked:
            batch = self.get_chained_records(
                picked, campaign_name=campaign_name, application_id=application_id, device_path=device_path,
                every_handle=True, progress=False, pace=Pace(concurrency=min(resolved.workers, 16), rate=resolved.rate))
            results = list(batch.results)
        return make_plan(resolved, handle_list, results, every_handle=every_handle)


def _capture_recorder(capture: Any, secrets: Any) -> HarRecorder | None:
    """The HAR writer of ``connect(capture=...)``, or None.  :raises InvalidParameterError: a bad argument."""
    from ._capture.writer import make_recorder

    return make_recorder(capture, secrets, _version())


def _version() -> str:
    # the package is loaded (this module is part of it); importing it here would make an import circle
    return str(getattr(sys.modules.get(__package__ or "gwsnb"), "__version__", ""))


def _password(username: str, password: str | None) -> str:
    if password is None:
        password = os.environ.get("GWS_PASSWORD")
    if password is None:
        password = getpass.getpass(f"GWS password for {username}: ")
    return password


def connect(url: str, username: str, password: str | None = None, *, verify: bool | str = True,
            timeout: float = 30.0, notifications_path: str = protocol.NOTIFICATIONS_PATH,
            start_session: bool = True, event_log_bytes: int = DEFAULT_EVENT_LOG_BYTES,
            event_log_size: int | None = None,
            allow_writes: bool | None = None, capture: str | os.PathLike[str] | None = None,
            capture_secrets: bool = False) -> GwsClient:
    """Log in to GWS, start the contact-center session, open CometD and subscribe to ``/v2/me/outbound``.

    :param url: the API base, e.g. ``http://127.0.0.1:8090/api/v2``
    :param password: if ``None``, taken from ``GWS_PASSWORD``, else asked with :func:`getpass.getpass`
    :param verify: TLS verification (``False`` warns once; a path names a CA bundle)
    :param timeout: seconds for HTTP requests and the default per-call timeout
    :param notifications_path: CometD endpoint, relative to ``url`` (or a full URL)
    :param start_session: send StartContactCenterSession (and EndContactCenterSession on close)
    :param event_log_bytes: byte budget of ``client.event_log``, the raw CometD messages kept for debugging
        (default 32 MiB; the oldest are dropped and counted beyond it; 0 turns the log off)
    :param event_log_size: deprecated (a cap on the messages kept; warns); use ``event_log_bytes``
    :param allow_writes: allow the record operations (complete, reschedule, do-not-call...), which change
        a live calling list; ``None`` (default) allows them only when ``GWS_ALLOW_WRITES=1``
    :param capture: write this client's HTTP traffic (REST and CometD) as a HAR 1.2 file there when it
        closes, bounded to the newest 64 MiB of exchanges (docs/captures.md)
    :param capture_secrets: keep credentials, cookies, CSRF tokens and clientIds in the capture (default:
        redacted)
    :raises InvalidParameterError: a bad argument.
    :raises AuthenticationError: credentials refused.
    :raises TransportError: the server cannot be reached or CometD cannot be opened.
    """
    return GwsClient(url, username, _password(username, password), verify=verify, timeout=timeout,
                     notifications_path=notifications_path, start_session=start_session,
                     event_log_bytes=event_log_bytes, event_log_size=event_log_size,
                     allow_writes=allow_writes, capture=capture, capture_secrets=capture_secrets)._open()


async def connect_async(url: str, username: str, password: str | None = None, *, verify: bool | str = True,
                        timeout: float = 30.0, notifications_path: str = protocol.NOTIFICATIONS_PATH,
                        start_session: bool = True, event_log_bytes: int = DEFAULT_EVENT_LOG_BYTES,
                        event_log_size: int | None = None,
                        allow_writes: bool | None = None, capture: str | os.PathLike[str] | None = None,
                        capture_secrets: bool = False) -> GwsClient:
    """The awaitable :func:`connect` (same parameters, client and errors): the caller's event loop keeps
    running while the client logs in and opens CometD on its own loop thread.

    ``async with await gwsnb.connect_async(...) as client:`` closes it with :meth:`GwsClient.aclose`.
    """
    client = GwsClient(url, username, _password(username, password), verify=verify, timeout=timeout,
                       notifications_path=notifications_path, start_session=start_session,
                       event_log_bytes=event_log_bytes, event_log_size=event_log_size,
                       allow_writes=allow_writes, capture=capture, capture_secrets=capture_secrets)
    return await client._open_from_caller()
