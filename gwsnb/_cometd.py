"""The CometD (Bayeux long-polling) side of the client: the only module that imports ``aiocometd_noloop``.

It owns the client's background event-loop thread, the adapter over ``aiocometd_noloop`` 0.4.9, the
reconnect policy and the raw event log.  Every trap listed in ``shared/COMETD-CLIENT.md`` is handled here:

1. credentials: an ``AuthExtension`` adds the REST session's cookies (JSESSIONID) and CSRF header to every
   long-polling POST; its ``authenticate()`` (called by the library on a Bayeux 401/403) and any HTTP
   401/403 seen on the CometD endpoint make the next request log in again over REST first;
2. first connect: ``advice: {"timeout": 0}`` is added to the first ``/meta/connect`` after each handshake,
   so a server that holds connects answers at once;
3. cookies: our own ``aiohttp`` session with ``CookieJar(unsafe=True)`` (the default jar drops cookies
   of IP-address hosts such as 127.0.0.1);
4. ``connection_timeout=0``: the library never gives up on an unreachable server by itself; calls in
   flight end by their own timeout instead;
5. no replay: messages published while disconnected are lost; the caller's timeout covers that;
6. one consumer task drains the library's queue at all times (we read messages in the extension's
   ``incoming()`` hook, which also sees ``/meta`` messages, and the queue is only drained);
7. ``close()`` is bounded by a timeout (the library can hang or log a ``CancelledError``);
8. the library re-sends its saved subscriptions on re-handshake itself.

Reconnect policy (:class:`ReconnectPolicy`): the server's advice is followed (``retry`` → connect,
``handshake`` → handshake, interval honoured by the library).  A ``/meta/connect`` refused with
``402::Unknown client`` (CometD) or ``401:<id>:Unknown client`` (faye) but carrying no advice is treated
as ``reconnect: "handshake"``.  After a failure (refused meta message, HTTP error, network error) each
further handshake or connect waits a full-jitter exponential backoff ``uniform(0, min(cap, base·2^(n-1)))``
(n = consecutive failures, reset by a successful connect), on top of the library's fixed 1 s pause after
a network error; and at most ``max_handshakes`` handshakes are sent per ``window`` seconds, so a server
that keeps forgetting the client cannot cause a handshake storm.  If the server advises
``reconnect: "none"`` the session is reopened from scratch under the same policy.  A successful
handshake resets the backoff (the server answers again), not the handshake cap.

Silent server: the library gives each long-poll 1.2 × the advised ``timeout``, and none at all when the
server's advice names no timeout (a ``402`` reply's advice usually does not), which would let a silent
server stall the session for good: so advice without a ``timeout`` is supplemented with the last one
advised (:data:`DEFAULT_ADVICE_TIMEOUT_MS`, GWS's 30 s, until the server names one) before the library
reads it, while the event log keeps the message as the server sent it.  A long-poll a poll that gets no answer
in that time sets :attr:`CometdSession.state` to ``"unresponsive"``, counts it in ``unanswered_polls`` and
logs one warning per outage (and one when the server answers again); the library then polls again.
Received array elements that are not JSON objects with a ``channel`` are logged in the event log (a
non-object wrapped as ``{INVALID_MESSAGE_KEY: value}``), counted in ``invalid_messages`` and removed
before the library sees them (it would raise and pause its connect loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiocometd_noloop import Client
from aiocometd_noloop import exceptions as cometd_errors
from aiocometd_noloop.constants import ConnectionType
from aiocometd_noloop.extensions import AuthExtension
from yarl import URL

from .errors import TransportError, describe
from .results import Event

__all__ = ["EventLog", "ReconnectPolicy", "CometdSession"]

LOGGER = logging.getLogger(__name__)

DEFAULT_EVENT_LOG_SIZE = 100_000
#: the long-poll timeout assumed until the server advises one (GWS advises 30000 ms [sample])
DEFAULT_ADVICE_TIMEOUT_MS = 30_000
#: an event-log entry for a received array element that was not a JSON object: ``{key: the value}``
INVALID_MESSAGE_KEY = "gwsnb.invalid_message"


class EventLog:
    """Every CometD message received (``/meta`` included), in arrival order, in a bounded ring buffer.

    When full, the oldest message is dropped and counted in :attr:`dropped` (never silently).
    Thread-safe: written by the client's loop thread, read from any thread.
    """

    def __init__(self, maxlen: int = DEFAULT_EVENT_LOG_SIZE) -> None:
        if maxlen < 1:
            raise ValueError("event log size must be >= 1")
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.dropped = 0
        self.total = 0

    @property
    def maxlen(self) -> int:
        return self._events.maxlen or 0

    def append(self, event: Event) -> None:
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append(event)
            self.total += 1

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"<EventLog {len(self)}/{self.maxlen} messages, {self.dropped} dropped>"


class ReconnectPolicy:
    """Full-jitter exponential backoff after failures and a cap on handshakes per window (see module doc)."""

    def __init__(self, *, base: float = 0.25, cap: float = 15.0, max_handshakes: int = 10,
                 window: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.max_handshakes = max_handshakes
        self.window = window
        self.failures = 0
        self.handshakes: deque[float] = deque()
        self._rng = rng or random.Random()

    def failure(self) -> None:
        self.failures += 1

    def success(self) -> None:
        self.failures = 0

    def delay(self, *, handshake: bool, now: float | None = None) -> float:
        """Seconds to wait before the next connect (or handshake) attempt."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        if self.failures > 0:
            wait = self._rng.uniform(0.0, min(self.cap, self.base * 2 ** (self.failures - 1)))
        if handshake:
            while self.handshakes and now - self.handshakes[0] > self.window:
                self.handshakes.popleft()
            if len(self.handshakes) >= self.max_handshakes:
                wait = max(wait, self.handshakes[0] + self.window - now)
        return wait

    def handshake_sent(self, now: float | None = None) -> None:
        self.handshakes.append(time.monotonic() if now is None else now)


def _is_unknown_client(message: dict[str, Any]) -> bool:
    error = message.get("error")
    if not isinstance(error, str):
        return False
    return (error.startswith("402") or error.startswith("401")) and "unknown client" in error.lower()


class _GwsExtension(AuthExtension):
    """Adds the REST credentials to every request, applies the reconnect policy, reads every message."""

    def __init__(self, owner: CometdSession) -> None:
        self._owner = owner
        self.first_connect_pending = True
        self.need_refresh = False
        self.sent_cookies: dict[str, str] = {}
        #: the last long-poll timeout the server advised (ms)
        self.advised_timeout_ms: float = DEFAULT_ADVICE_TIMEOUT_MS

    async def outgoing(self, payload: list[dict[str, Any]], headers: dict[str, str]) -> None:
        owner = self._owner
        channels = [m.get("channel") for m in payload]
        is_handshake = "/meta/handshake" in channels
        if is_handshake or "/meta/connect" in channels:
            wait = owner.policy.delay(handshake=is_handshake)
            if wait > 0:
                LOGGER.info("CometD: waiting %.2f s before the next %s", wait,
                            "handshake" if is_handshake else "connect")
                await asyncio.sleep(wait)
            if is_handshake:
                owner.policy.handshake_sent()
                owner.handshakes += 1
        await self._refresh_if_needed()
        for message in payload:
            if message.get("channel") == "/meta/connect" and self.first_connect_pending:
                advice = message.setdefault("advice", {})
                if isinstance(advice, dict):
                    advice["timeout"] = 0
                self.first_connect_pending = False
        cookies = owner.cookies()
        self.sent_cookies = cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
            session = owner.http_session
            if session is not None:
                # keep the jar in step: aiohttp lets jar cookies override a same-named Cookie header
                session.cookie_jar.update_cookies(cookies, URL(owner.url))
        headers.update(owner.headers())

    async def incoming(self, payload: list[dict[str, Any]], headers: Any = None) -> None:
        owner = self._owner
        now = time.time()
        events: list[Event] = []
        invalid = 0
        for index, message in enumerate(payload):
            if not isinstance(message, dict) or not isinstance(message.get("channel"), str):
                # logged (a non-object wrapped, so the log holds dicts only) and left to the correlator
                # to count; removed below, the library would raise on it and pause its connect loop
                invalid += 1
                logged = message if isinstance(message, dict) else {INVALID_MESSAGE_KEY: message}
                event = Event(now, logged)
                owner.event_log.append(event)
                events.append(event)
                continue
            channel = message.get("channel")
            if channel in ("/meta/connect", "/meta/handshake"):
                if message.get("successful"):
                    if channel == "/meta/handshake":
                        self.first_connect_pending = True
                        owner.client_id = message.get("clientId")
                        # the server answers again: the first connect goes at once (the handshake cap
                        # per window still bounds a server that accepts handshakes and forgets clients)
                        owner.policy.success()
                    else:
                        owner.policy.success()
                        owner.connected_with = dict(self.sent_cookies)
                        owner._mark_connected()
                else:
                    owner.policy.failure()
                    owner._mark_down("refused")
                    advice = message.get("advice")
                    if _is_unknown_client(message) and not (isinstance(advice, dict) and "reconnect" in advice):
                        # CometD servers send advice with 402; without it the library would retry forever
                        payload[index] = {**message, "advice": {"reconnect": "handshake", "interval": 0}}
            payload[index] = self._with_timeout_advice(payload[index])
            event = Event(now, message)
            owner.event_log.append(event)
            events.append(event)
        if invalid:
            owner.invalid_messages += invalid
            LOGGER.warning("CometD: %d received message(s) without a channel or not a JSON object; kept in "
                           "the event log, ignored", invalid)
            payload[:] = [m for m in payload if isinstance(m, dict) and isinstance(m.get("channel"), str)]
        if events:
            try:
                owner.on_messages(events)
            except Exception:  # a bug in a consumer must not kill the transport
                LOGGER.exception("CometD: message handler failed")

    def _with_timeout_advice(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` as the library should read it: advice always names a long-poll timeout."""
        advice = message.get("advice")
        if isinstance(advice, dict):
            timeout = advice.get("timeout")
            if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
                self.advised_timeout_ms = timeout
                return message
        elif not (message.get("channel") == "/meta/handshake" and message.get("successful")):
            return message  # no advice: the library keeps the previous one, which names a timeout
        supplemented = dict(advice) if isinstance(advice, dict) else {}
        supplemented["timeout"] = self.advised_timeout_ms
        return {**message, "advice": supplemented}

    async def authenticate(self) -> None:
        # the library calls this on a Bayeux 401/403 and resends once; faye's "401::Unknown client"
        # also lands here, so only log in again when the HTTP layer said the session is gone
        await self._refresh_if_needed()

    async def _refresh_if_needed(self) -> None:
        owner = self._owner
        if not self.need_refresh or owner.refresh is None:
            return
        self.need_refresh = False
        if owner.cookies() != self.sent_cookies:
            return  # the REST side already logged in again since the refused request: just resend
        with contextlib.suppress(Exception):
            await owner.refresh()


class CometdSession:
    """One logical CometD session over long-polling that survives re-handshakes and server restarts.

    :param url: the notifications endpoint (``…/api/v2/notifications``)
    :param cookies: returns the current REST cookies (JSESSIONID), called before every request
    :param headers: returns the extra headers (CSRF), called before every request
    :param refresh: coroutine that logs in again over REST (after an HTTP 401/403 on the endpoint)
    :param on_messages: called on the loop with each received batch (``/meta`` included), in order
    """

    def __init__(self, url: str, *, channels: tuple[str, ...] = ("/v2/me/outbound",),
                 cookies: Callable[[], dict[str, str]] | None = None,
                 headers: Callable[[], dict[str, str]] | None = None,
                 refresh: Callable[[], Awaitable[None]] | None = None,
                 on_messages: Callable[[list[Event]], None] | None = None,
                 event_log: EventLog | None = None, verify: bool | str = True,
                 policy: ReconnectPolicy | None = None) -> None:
        self.url = url
        self.channels = channels
        self.cookies = cookies or dict
        self.headers = headers or dict
        self.refresh = refresh
        self.on_messages = on_messages or (lambda events: None)
        self.event_log = event_log if event_log is not None else EventLog()
        self.policy = policy or ReconnectPolicy()
        self._ssl: Any = None if verify is True else (False if verify is False else _ssl_context(verify))
        self.http_session: aiohttp.ClientSession | None = None
        self._client: Client | None = None
        self._extension = _GwsExtension(self)
        self._consumer: asyncio.Task[None] | None = None
        self._closing = False
        self.client_id: str | None = None
        self.handshakes = 0
        self.reopens = 0
        self.connected = asyncio.Event()
        #: see :attr:`state`
        self._state = "connecting"
        #: received messages that were not a JSON object with a channel (kept in the event log)
        self.invalid_messages = 0
        #: the cookies sent with the last successful ``/meta/connect`` (read by :meth:`riding`)
        self.connected_with: dict[str, str] = {}
        #: long-polls that got no answer at all within the advised timeout (× 1.2) — a silent server
        self.unanswered_polls = 0
        #: loop time when the session last stopped being connected (None while connected)
        self.down_since: float | None = None

    @property
    def state(self) -> str:
        """``connecting`` (before the first connect), ``connected``, ``unresponsive`` (a long-poll got no
        answer within the advised timeout: the server is silent), ``reconnecting`` (refused, network
        error, re-handshake) or ``closed``."""
        return self._state

    def riding(self, cookies: dict[str, str]) -> bool:
        """Whether the session is connected over the HTTP session of ``cookies`` (safe from any thread)."""
        return self.connected.is_set() and self.connected_with == cookies

    def _mark_connected(self) -> None:
        if self._state == "unresponsive" and self.down_since is not None:
            LOGGER.warning("CometD: %s answers again after %.1f s", self.url,
                           time.monotonic() - self.down_since)
        self._state = "connected"
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
                # warn once per outage: the transport retries every (timeout × 1.2) while it lasts
                LOGGER.warning("CometD: no answer from %s within the advised long-poll timeout; the server "
                               "looks silent, retrying (calls in flight end by their own timeout)", self.url)
            self._state = "unresponsive"
        elif self._state != "unresponsive":
            self._state = "reconnecting"
        self.connected.clear()

    def __repr__(self) -> str:
        return f"<CometdSession {self.url!r} {self._state} handshakes={self.handshakes}>"

    def _trace(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()

        async def on_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            status = params.response.status
            if status in (401, 403):
                self._extension.need_refresh = True
            if status >= 400:
                self.policy.failure()

        async def on_exception(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            self.policy.failure()
            # aiohttp's total timeout (the library sets it to 1.2 × the advised timeout) raises a bare
            # TimeoutError: the request was sent and the server never answered
            silent = isinstance(params.exception, asyncio.TimeoutError) and not isinstance(
                params.exception, aiohttp.ConnectionTimeoutError)
            self._mark_down("unresponsive" if silent else "network")

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_exception)
        return trace

    async def _new_client(self) -> Client:
        self.http_session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                                  trace_configs=[self._trace()])
        client = Client(self.url, ConnectionType.LONG_POLLING, connection_timeout=0, ssl=self._ssl,
                        max_pending_count=10_000, auth=self._extension, loop=asyncio.get_running_loop())
        client._http_session = self.http_session  # trap 3: our jar keeps cookies of IP hosts
        self._extension.first_connect_pending = True
        return client

    async def open(self, timeout: float = 30.0) -> None:
        """Handshake, first connect and subscribe; then keep the session alive in the background.

        :raises TransportError: the server refused, or did not answer within ``timeout``.
        """
        self._closing = False
        try:
            await asyncio.wait_for(self._open_client(), timeout)
        except asyncio.TimeoutError:
            await self._drop_client()
            raise TransportError(f"CometD handshake with {self.url} did not complete within {timeout} s") from None
        except (cometd_errors.AiocometdException, aiohttp.ClientError, OSError) as exc:
            await self._drop_client()
            raise TransportError(f"CometD handshake with {self.url} failed: {describe(exc)}") from None
        self._consumer = asyncio.get_running_loop().create_task(self._consume(), name="gwsnb-cometd-consumer")

    async def _open_client(self) -> None:
        client = await self._new_client()
        self._client = client
        await client.open()
        for channel in self.channels:
            await client.subscribe(channel)

    async def _drop_client(self, timeout: float = 3.0) -> None:
        client, self._client = self._client, None
        if client is not None:
            # trap 7: the library's done-callback logs a CancelledError when its connect task is cancelled
            transport = getattr(client, "_transport", None)
            task = getattr(transport, "_connect_task", None)
            if task is not None and transport is not None:
                with contextlib.suppress(Exception):
                    task.remove_done_callback(transport._connect_done)
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(client.close(), timeout)
        session, self.http_session = self.http_session, None
        if session is not None and not session.closed:
            with contextlib.suppress(Exception):
                await session.close()

    async def _consume(self) -> None:
        """Trap 6: drain the library's queue forever (messages were already read in ``incoming()``)."""
        while not self._closing:
            client = self._client
            try:
                if client is None:
                    raise cometd_errors.ClientInvalidOperation("no client")
                await client.receive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # server said reconnect:none, or the client died: start over
                if self._closing:
                    return
                self._mark_down("lost")
                self.policy.failure()
                LOGGER.warning("CometD session lost (%s); reopening", describe(exc))
                await self._reopen()

    async def _reopen(self) -> None:
        while not self._closing:
            await self._drop_client()
            await asyncio.sleep(max(1.0, self.policy.delay(handshake=True)))
            try:
                await asyncio.wait_for(self._open_client(), 30.0)
                self.reopens += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.policy.failure()
                LOGGER.warning("CometD reopen failed: %s", describe(exc))

    async def close(self, timeout: float = 5.0) -> None:
        """Disconnect (trap 7: bounded by ``timeout``).  Idempotent."""
        self._closing = True
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(consumer, timeout)
        await self._drop_client(timeout)
        self.connected.clear()
        self._state = "closed"


def _ssl_context(cafile: str) -> Any:
    import ssl

    return ssl.create_default_context(cafile=cafile)
