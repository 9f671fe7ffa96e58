"""The CometD (Bayeux 1.0 long-polling) client of gwsnb: handshake, connect, subscribe, and staying alive.

Written here over ``aiohttp`` rather than taken from a library: the one Python CometD client that works on
current Python (aiocometd-noloop) cost about a third of the client's CPU per GetChainedRecord call, which
kept a notebook far from what a hand-written asyncio client does (see ``benchmarks/bench_percall.py``).
It is tested against three independent servers: faye, CometD's own Node server, and the sandbox.

One task runs the session: handshake → subscribe → long-poll ``/meta/connect`` over and over.  Each
concern lives in one place:

- credentials (cookies from the jar shared with REST, CSRF header, re-login after HTTP 401/403):
  :mod:`gwsnb._wire.credentials`;
- the server's advice and our pacing (full-jitter backoff, handshake cap, the long-poll deadline):
  :mod:`gwsnb._wire.reconnect`;
- received-message hygiene (what is a message, what is logged and counted as invalid):
  :mod:`gwsnb._wire.hygiene`;
- the event log: :mod:`gwsnb._wire.eventlog`.

Protocol rules (see docs/cometd.md): the first ``/meta/connect`` after each handshake sends
``advice: {"timeout": 0}`` so that a server holding connects answers at once; ``reconnect: "handshake"``
(or ``402::Unknown client`` / faye's ``401:<id>:Unknown client`` without advice) leads to a new handshake
and re-subscription; ``reconnect: "none"`` reopens the session from scratch under the same pacing.  A
long-poll unanswered within 1.2 × the advised timeout marks the session ``unresponsive`` (counted in
:attr:`CometdSession.unanswered_polls`, one warning per outage).  Messages published while disconnected
are lost (Bayeux has no replay): :attr:`CometdSession.epoch` counts the CometD clients subscribed, and the
client resends the GetChainedRecord calls answered under an older one (docs/engine.md, "Outages").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from .. import protocol
from ..errors import TransportError, describe
from ..results import Event
from . import jsoncodec
from .credentials import Credentials
from .eventlog import DEFAULT_EVENT_LOG_BYTES, DEFAULT_EVENT_LOG_SIZE, EventLog
from .hygiene import INVALID_MESSAGE_KEY, MalformedBody, is_unknown_client, is_valid, parse_body
from .reconnect import Advice, ReconnectPolicy

# EventLog, DEFAULT_EVENT_LOG_SIZE, INVALID_MESSAGE_KEY and ReconnectPolicy are re-exported from the
# modules that define them, for code written when they lived here
__all__ = ["CometdSession", "ConnectReport", "DEFAULT_EVENT_LOG_BYTES", "DEFAULT_EVENT_LOG_SIZE", "EventLog",
           "INVALID_MESSAGE_KEY", "ReconnectPolicy", "SessionObserver"]

LOGGER = logging.getLogger(__name__)

#: seconds a handshake, subscribe or disconnect request may take
REQUEST_TIMEOUT_S = 10.0
#: least pause after a network error (a refused connection fails at once)
NETWORK_PAUSE_S = 0.1
#: most backoff between attempts while the server cannot be reached at all (refused, reset): such an
#: attempt costs the server nothing, and the session is back within this long of the server's return
NETWORK_BACKOFF_CAP_S = 1.0
#: least pause before reopening after ``reconnect: "none"``
REOPEN_PAUSE_S = 1.0
#: pause before the next long-poll after an answer, while a blocking caller waits (see ``_step``)
REPOLL_PAUSE_S = 0.0001
_CONNECTION_TIMEOUT: Any = getattr(aiohttp, "ConnectionTimeoutError", ())


@dataclass(frozen=True)
class ConnectReport:
    """One finished ``/meta/connect`` as an observer sees it (instants are ``time.time()`` seconds).

    ``outcome``: ``ok`` (answered, successful), ``refused`` (answered unsuccessfully or with an HTTP error),
    ``silent`` (unanswered within 1.2 × the advised timeout) or ``error`` (the connection failed: closed,
    reset, refused).  ``held``: the server was allowed to hold it (not the first connect after a handshake,
    which asks for ``timeout: 0``); ``advised_timeout_ms`` the hold advised when it was sent; ``messages``
    the messages its answer carried besides the connect reply.
    """

    started: float
    ended: float
    outcome: str
    held: bool
    advised_timeout_ms: float
    messages: int = 0
    error: str | None = None

    @property
    def duration_s(self) -> float:
        return self.ended - self.started


class SessionObserver(Protocol):
    """What :attr:`CometdSession.observers` are called with, on the loop thread (a live watch, say).

    Both must be cheap: ``received`` runs for every received batch, in the transport's path.
    """

    def received(self, events: list[Event]) -> None: ...

    def connect_finished(self, report: ConnectReport) -> None: ...


class _Refused(Exception):
    """A meta request the server refused or answered without its reply (see the event log)."""


class CometdSession:
    """One logical CometD session over long-polling that survives re-handshakes and server restarts.

    :param url: the notifications endpoint (``…/api/v2/notifications``)
    :param http: the ``aiohttp`` session to send with (the client passes the REST one: one cookie jar);
        ``None`` makes one of its own (``CookieJar(unsafe=True)``), closed with the session
    :param headers: returns the extra headers (CSRF), called before every request
    :param refresh: coroutine that logs in again over REST (after an HTTP 401/403 on the endpoint)
    :param on_messages: called on the loop with each received batch (``/meta`` included), in order
    :param verify: TLS verification for a session of its own (``ssl=`` of aiohttp: True, False or a context)
    :param proxy: the proxy URL to send through, if any
    """

    def __init__(self, url: str, *, channels: tuple[str, ...] = (protocol.CHANNEL_OUTBOUND,),
                 http: aiohttp.ClientSession | None = None,
                 headers: Callable[[], dict[str, str]] | None = None,
                 refresh: Callable[[], Awaitable[None]] | None = None,
                 on_messages: Callable[[list[Event]], None] | None = None,
                 event_log: EventLog | None = None, verify: Any = True,
                 policy: ReconnectPolicy | None = None, proxy: str | None = None) -> None:
        self.url = url
        self.channels = channels
        self.credentials = Credentials(url, headers=headers, refresh=refresh)
        self.credentials.http = http
        self._own_http = http is None
        self._ssl = verify  # True defers to the session's connector (the REST side's context when shared)
        self.proxy = proxy
        self.on_messages = on_messages or (lambda events: None)
        self.event_log = event_log if event_log is not None else EventLog()
        self.policy = policy or ReconnectPolicy()
        self.advice = Advice()
        #: whether a thread other than the loop's waits on a call (see ``_step``); set by the client
        self.threads_waiting: Callable[[], bool] = lambda: False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._first_connect = True
        self._pause_floor = 0.0
        self._delivered = False
        self._subscribed = False
        self.client_id: str | None = None
        self.handshakes = 0
        self.reopens = 0
        self.connected = asyncio.Event()
        self._state = "connecting"
        #: received messages that were not a JSON object with a channel (kept in the event log)
        self.invalid_messages = 0
        #: the cookies sent with the last successful ``/meta/connect`` (read by :meth:`riding`)
        self.connected_with: dict[str, str] = {}
        #: long-polls that got no answer at all within the advised timeout (× 1.2) — a silent server
        self.unanswered_polls = 0
        #: monotonic time when the session last stopped being connected (None while connected)
        self.down_since: float | None = None
        #: called with every received batch and every finished connect (see :class:`SessionObserver`)
        self.observers: list[SessionObserver] = []
        #: bumped each time a new CometD client (a handshake, a new clientId) is subscribed: what the
        #: server published for an older one is lost (Bayeux has no replay)
        self.epoch = 0
        #: gwsnb's own HAR writer (``connect(capture=...)``); None: off
        self.recorder: Any = None
        #: called on the loop with the new :attr:`epoch` when it is bumped (see docs/engine.md, "Outages")
        self.on_new_session: Callable[[int], None] = lambda epoch: None
        self._new_client = False
        #: the last failures were network errors (the server unreachable), not refusals
        self._network_streak = False

    @property
    def http_session(self) -> aiohttp.ClientSession | None:
        return self.credentials.http

    @property
    def state(self) -> str:
        """``connecting`` (before the first connect), ``connected``, ``unresponsive`` (a long-poll got no
        answer within the advised timeout: the server is silent), ``reconnecting`` (refused, network
        error, re-handshake) or ``closed``."""
        return self._state

    def riding(self, cookies: dict[str, str]) -> bool:
        """Whether the session is connected with every cookie of ``cookies`` (the REST side's) as they are."""
        sent = self.connected_with
        return self.connected.is_set() and all(sent.get(k) == v for k, v in cookies.items())

    def __repr__(self) -> str:
        return f"<CometdSession {self.url!r} {self._state} handshakes={self.handshakes}>"

    # --- state ----------------------------------------------------------------------------------
    def _mark_connected(self) -> None:
        if self._state == "unresponsive" and self.down_since is not None:
            LOGGER.warning("CometD: %s answers again after %.1f s", self.url, time.monotonic() - self.down_since)
        self._state = "connected"
        self._network_streak = False
        self.down_since = None
        self.connected.set()

    def _mark_down(self, why: str) -> None:
        if self._closing:
            return
        if self.down_since is None:
            self.down_since = time.monotonic()
        if why == "unresponsive":
            self.unanswered_polls += 1
            if self._state != "unresponsive":
                # warn once per outage: the session polls again every (timeout × 1.2) while it lasts
                LOGGER.warning("CometD: no answer from %s within the advised long-poll timeout; the server "
                               "looks silent, retrying (calls in flight end by their own timeout)", self.url)
            self._state = "unresponsive"
        elif self._state != "unresponsive":
            self._state = "reconnecting"
        self.connected.clear()

    # --- one request ------------------------------------------------------------------------------
    async def _post(self, messages: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        """Send one Bayeux request; log and deliver what comes back; return the valid replies.

        :raises _Refused: HTTP error status without a Bayeux body.
        :raises aiohttp.ClientError, OSError, asyncio.TimeoutError, MalformedBody: transport failures.
        """
        credentials = self.credentials
        http = credentials.http
        if http is None:
            raise TransportError("the CometD session is not open")
        await credentials.refresh_if_needed()
        if self.recorder is not None:
            return await self._post_recorded(messages, timeout)
        async with http.post(self.url, data=jsoncodec.dumps(messages), headers=credentials.headers(), proxy=self.proxy,
                             timeout=aiohttp.ClientTimeout(total=timeout), ssl=self._ssl) as response:
            raw = await response.read()
            status = response.status
        return self._answer(status, raw, time.time())

    async def _post_recorded(self, messages: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        """:meth:`_post` handing the exchange to the HAR recorder (``connect(capture=...)``)."""
        http, recorder = self.credentials.http, self.recorder
        assert http is not None and recorder is not None
        data, headers, sent = jsoncodec.dumps(messages), self.credentials.headers(), time.time()
        try:
            async with http.post(self.url, data=data, headers=headers, proxy=self.proxy,
                                 timeout=aiohttp.ClientTimeout(total=timeout), ssl=self._ssl) as response:
                answered = time.time()
                raw = await response.read()
                status = response.status
                now = time.time()
                recorder.record("POST", self.url, response.request_info.headers, data, sent,
                                status, response.headers, raw, now, answered=answered)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            recorder.record("POST", self.url, headers, data, sent, 0, None, None, time.time(),
                            error=describe(exc))
            raise
        return self._answer(status, raw, now)

    def _answer(self, status: int, raw: bytes, now: float) -> list[dict[str, Any]]:
        self.credentials.refused(status)
        try:
            replies = self._receive(raw, now)
        except MalformedBody:
            if status < 400:
                raise
            replies = []
        if status >= 400 and not replies:  # a Bayeux body (e.g. 401 with 402::Unknown client) speaks for itself
            raise _Refused(f"HTTP {status}")
        return replies

    def _receive(self, raw: bytes, now: float) -> list[dict[str, Any]]:
        messages, invalid = parse_body(raw)
        events = [Event(now, m) for m in messages]
        self.event_log.add_raw(now, raw, len(events))  # raw: decoded only when the log is read
        if invalid:
            self.invalid_messages += invalid
            LOGGER.warning("CometD: %d received message(s) without a channel or not a JSON object; kept in "
                           "the event log, ignored", invalid)
        if events:
            self._delivered = True
            try:
                self.on_messages(events)
            except Exception:  # a bug in a consumer must not kill the transport
                LOGGER.exception("CometD: message handler failed")
            for observer in tuple(self.observers) if self.observers else ():  # a copy: a watch may stop meanwhile
                try:
                    observer.received(events)
                except Exception:
                    LOGGER.exception("CometD: observer failed")
        return messages if not invalid else [m for m in messages if is_valid(m)]

    def _meta_reply(self, replies: list[dict[str, Any]], channel: str) -> dict[str, Any]:
        """The reply on ``channel`` (its advice taken); :raises _Refused: none, or unsuccessful."""
        for message in replies:
            if message.get("channel") != channel:
                continue
            self.advice.update(message.get("advice"))
            if message.get("successful") is True:
                return message
            if is_unknown_client(message) and not _advises_reconnect(message):
                self.advice.reconnect = "handshake"  # what CometD servers advise with a 402
            raise _Refused(str(message.get("error") or f"{channel} refused"))
        raise _Refused(f"no {channel} reply")

    # --- the protocol steps -------------------------------------------------------------------------
    async def _handshake(self) -> None:
        self.policy.handshake_sent()
        self.handshakes += 1
        self.client_id = None
        message = {"channel": protocol.META_HANDSHAKE, "version": "1.0", "minimumVersion": "1.0",
                   "supportedConnectionTypes": ["long-polling"]}
        reply = self._meta_reply(await self._post([message], REQUEST_TIMEOUT_S), protocol.META_HANDSHAKE)
        client_id = reply.get("clientId")
        if not isinstance(client_id, str) or not client_id:
            raise _Refused("handshake reply without a clientId")
        self.client_id = client_id
        self._subscribed = False
        self._new_client = True
        self.advice.reconnect = "retry"
        self._first_connect = True
        self.policy.success()

    async def _subscribe(self) -> None:
        messages = [{"channel": protocol.META_SUBSCRIBE, "clientId": self.client_id, "subscription": channel}
                    for channel in self.channels]
        replies = await self._post(messages, REQUEST_TIMEOUT_S)
        for message in replies:
            if message.get("channel") == protocol.META_SUBSCRIBE and message.get("successful") is not True:
                self.advice.update(message.get("advice"))
                if is_unknown_client(message) and not _advises_reconnect(message):
                    self.advice.reconnect = "handshake"
                raise _Refused(f"subscription refused: {message.get('error')}")
        self._subscribed = True
        if self._new_client:
            self._new_client = False
            self.epoch += 1
            try:
                self.on_new_session(self.epoch)
            except Exception:  # a bug in a consumer must not kill the transport
                LOGGER.exception("CometD: new-session handler failed")

    async def _connect(self) -> None:
        if not self.observers:
            await self._connect_once()
            return
        started, held, hold_ms = time.time(), not self._first_connect, self.advice.timeout_ms
        try:
            messages = await self._connect_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = "silent" if isinstance(exc, _Silent) else "refused" if isinstance(exc, _Refused) else "error"
            self._report(ConnectReport(started, time.time(), outcome, held, hold_ms,
                                       error=str(exc) if isinstance(exc, _Refused) else describe(exc)))
            raise
        self._report(ConnectReport(started, time.time(), "ok", held, hold_ms, messages))

    def _report(self, report: ConnectReport) -> None:
        for observer in tuple(self.observers):
            try:
                observer.connect_finished(report)
            except Exception:
                LOGGER.exception("CometD: observer failed")

    async def _connect_once(self) -> int:
        """One ``/meta/connect``; returns how many messages its answer carried besides the reply."""
        message: dict[str, Any] = {"channel": protocol.META_CONNECT, "clientId": self.client_id,
                                   "connectionType": "long-polling"}
        deadline = self.advice.poll_deadline_s
        if self._first_connect:
            message["advice"] = {"timeout": 0}
            deadline = REQUEST_TIMEOUT_S
        try:
            replies = await self._post([message], deadline)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, _CONNECTION_TIMEOUT):
                raise
            # the request was sent and the server never answered (a refused connection is another error)
            raise _Silent() from None
        self._meta_reply(replies, protocol.META_CONNECT)
        self._first_connect = False
        self.connected_with = self.credentials.sent
        self.policy.success()
        self._mark_connected()
        return len(replies) - 1

    async def _establish(self) -> None:
        await self._handshake()
        await self._subscribe()
        await self._connect()

    # --- lifecycle -----------------------------------------------------------------------------------
    async def open(self, timeout: float = 30.0) -> None:
        """Handshake, subscribe and first connect; then keep the session alive in a background task.

        :raises TransportError: the server refused, or did not answer within ``timeout``.
        """
        self._closing = False
        if self.credentials.http is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl)
            self.credentials.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                                          connector=connector)
        try:
            await asyncio.wait_for(self._establish(), timeout)
        except asyncio.TimeoutError:
            await self._close_http()
            raise TransportError(f"CometD handshake with {self.url} did not complete within {timeout} s") from None
        except (_Refused, _Silent, MalformedBody, aiohttp.ClientError, OSError) as exc:
            await self._close_http()
            raise TransportError(f"CometD handshake with {self.url} failed: {describe(exc)}") from None
        self._task = asyncio.get_running_loop().create_task(self._run(), name="gwsnb-cometd")

    async def _run(self) -> None:
        """Long-poll until closed, following the advice and the reconnect policy."""
        while not self._closing:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)

    async def _step(self) -> None:
        if self._delivered and self.threads_waiting():
            # a pause after an answer while another thread blocks on a call: the calls the answer finished
            # resume, and that thread gets the GIL while this loop waits, instead of after it has built the
            # next long-poll; messages arriving meanwhile are queued by the server for that poll
            await asyncio.sleep(REPOLL_PAUSE_S)
        self._delivered = False
        advice = self.advice
        if advice.reconnect == "none":
            LOGGER.warning("CometD: %s advised reconnect 'none'; reopening the session", self.url)
            self.reopens += 1
            advice.reconnect = "handshake"
            await asyncio.sleep(max(REOPEN_PAUSE_S, self.policy.delay(handshake=True)))
        if self.client_id is None or advice.reconnect == "handshake":
            await self._pace(handshake=True)
            await self._handshake()
            await self._subscribe()
            return
        await self._pace(handshake=False)
        if not self._subscribed:  # the subscription after the last handshake failed: try it again
            await self._subscribe()
            return
        await self._connect()

    async def _pace(self, *, handshake: bool) -> None:
        cap = NETWORK_BACKOFF_CAP_S if self._network_streak else None
        wait = max(self.policy.delay(handshake=handshake, cap=cap), self.advice.interval_s, self._pause_floor)
        self._pause_floor = 0.0
        if wait > 0:
            LOGGER.info("CometD: waiting %.2f s before the next %s", wait, "handshake" if handshake else "connect")
            await asyncio.sleep(wait)

    def _failed(self, exc: Exception) -> None:
        network = not isinstance(exc, (_Silent, _Refused))
        if self._network_streak and not network:
            # the server answers again (with a refusal, e.g. 402 Unknown client after its restart): that is
            # progress, so the backoff starts over instead of going on from the outage's many failures;
            # the handshake cap still guards against a storm
            self.policy.success()
        self._network_streak = network
        self.policy.failure()
        if isinstance(exc, _Silent):
            self._mark_down("unresponsive")
            return
        if isinstance(exc, _Refused):
            self._mark_down("refused")
            LOGGER.info("CometD: %s", exc)
            return
        self._mark_down("network")
        LOGGER.info("CometD: %s", describe(exc))
        self._pause_floor = NETWORK_PAUSE_S

    async def close(self, timeout: float = 5.0) -> None:
        """Disconnect (bounded by ``timeout``) and stop.  Idempotent."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout)
        if self.client_id is not None and self.credentials.http is not None:
            message = {"channel": protocol.META_DISCONNECT, "clientId": self.client_id}
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._post([message], min(timeout, 2.0)), timeout)
            self.client_id = None
        await self._close_http()
        self.connected.clear()
        self._state = "closed"

    async def _close_http(self) -> None:
        http = self.credentials.http
        if self._own_http and http is not None:
            self.credentials.http = None
            with contextlib.suppress(Exception):
                await http.close()


class _Silent(Exception):
    """A long-poll got no answer within the advised timeout × 1.2."""


def _advises_reconnect(message: dict[str, Any]) -> bool:
    advice = message.get("advice")
    return isinstance(advice, dict) and "reconnect" in advice
