"""The sandbox's Bayeux 1.0 server (CometD long-polling) at ``/api/v2/notifications``.

Written by hand because no maintained Python Bayeux server exists; it is proven against the official
CometD JavaScript client in ``tests/sandbox``. Behaviour ([choice] points, docs/cometd.md and docs/choices.md):

- The CometD session rides on the HTTP session: every POST must carry a valid ``JSESSIONID`` cookie and,
  as for REST, the CSRF header. Without a live HTTP session the answer is HTTP 401 whose body holds the
  Bayeux replies: a handshake is refused (``successful: false``, error ``401::...`` naming the reason,
  advice ``reconnect: none``), other messages get ``402::Unknown client``. With a live session but a
  missing or wrong CSRF header the answer is HTTP 403 ``Missing or invalid Csrf token``.
- ``/meta/connect``: the first one after a handshake is answered at once; later ones are held until a
  message is queued for the client or the timeout passes (30 000 ms, or the client's ``advice.timeout``).
  Queued messages are batched into the connect answer, before the connect reply.
- An unknown, expired or foreign ``clientId`` gets ``402::Unknown client`` with advice
  ``reconnect: handshake``. A client that has not polled for ``max_idle_s`` is forgotten.
- ``/me/internal`` messages reach every client of the session without a subscription; other channels
  only reach clients subscribed to them (``*`` and ``**`` wildcards honoured). Clients cannot publish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..protocol import (
    CHANNEL_INTERNAL,
    CSRF_REJECTION_TEXT,
    META_CONNECT,
    META_DISCONNECT,
    META_HANDSHAKE,
    META_SUBSCRIBE,
    META_UNSUBSCRIBE,
)
from ._faults import Faults
from ._misconfig import LONG_POLL_CUT_S, MULTIPLE_CLIENTS_INTERVAL_MS, Misconfig
from ._sessions import SessionStore

__all__ = ["BayeuxServer"]

log = logging.getLogger(__name__)

Message = dict[str, Any]

CONNECT_TIMEOUT_MS = 30000
#: the cookie a successful handshake sets (CometD servers call theirs BAYEUX_BROWSER)
BROWSER_COOKIE = "BAYEUX_BROWSER"
MAX_BODY_BYTES = 256 * 1024
_SILENT_POLL_S = 0.05


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def channel_matches(pattern: str, channel: str) -> bool:
    """Bayeux channel globbing: ``/a/*`` matches one segment, ``/a/**`` any number of segments."""
    if pattern == channel:
        return True
    if pattern.endswith("/**"):
        return channel.startswith(pattern[:-2]) and len(channel) > len(pattern) - 2
    if pattern.endswith("/*"):
        prefix = pattern[:-1]
        return channel.startswith(prefix) and "/" not in channel[len(prefix) :] and len(channel) > len(prefix)
    return False


@dataclass
class _Client:
    id: str
    session_id: str
    last_seen: float
    subscriptions: set[str] = field(default_factory=set)
    queue: list[Message] = field(default_factory=list)
    waiter: asyncio.Future[None] | None = None
    connected_once: bool = False
    holding: int = 0
    connects: int = 0

    def wants(self, channel: str) -> bool:
        if channel == CHANNEL_INTERNAL:
            return True
        return any(channel_matches(p, channel) for p in self.subscriptions)

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class BayeuxServer:
    """Clients, subscriptions, per-client queues and the long-poll handler. Runs on one event loop."""

    def __init__(
        self,
        sessions: SessionStore,
        faults: Faults,
        *,
        timeout_ms: int = CONNECT_TIMEOUT_MS,
        max_idle_s: float = 60.0,
        misconfig: Misconfig | None = None,
    ) -> None:
        self._sessions = sessions
        self.misconfig = misconfig or Misconfig()
        self._faults = faults
        self.timeout_ms = timeout_ms
        self.max_idle_s = max_idle_s
        self._clients: dict[str, _Client] = {}
        self._by_session: dict[str, set[str]] = {}
        self._closing = False
        #: the server is going down (``Faults.outage_after_ack_s``): nothing more is queued for anyone
        self._frozen = False

    def __repr__(self) -> str:
        return f"BayeuxServer(clients={len(self._clients)})"

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value

    # ----- delivery -------------------------------------------------------------------------------

    def deliver(self, session_id: str, message: Message) -> int:
        """Queue ``message`` for every client of ``session_id`` that wants its channel.

        :returns: how many clients it was queued for.
        """
        if self._frozen:
            return 0
        count = 0
        if "notifications_missing" in self.misconfig:
            return 0  # acknowledged upstream, delivered nowhere
        channel = message.get("channel", "")
        for cid in self._by_session.get(session_id, ()):
            client = self._clients.get(cid)
            if client is not None and client.wants(channel):
                client.queue.append(message)
                client.wake()
                count += 1
        return count

    def deliver_to_session(self, session_id: str, message: Any) -> int:
        """Queue any JSON value, unchecked, for every client of ``session_id`` (malformed-message faults)."""
        if self._frozen:
            return 0
        count = 0
        if "notifications_missing" in self.misconfig:
            return 0
        for cid in self._by_session.get(session_id, ()):
            client = self._clients.get(cid)
            if client is not None:
                client.queue.append(message)
                client.wake()
                count += 1
        return count

    def deliver_foreign(self, session_id: str, message: Message) -> int:
        """Queue ``message`` for the clients of every session *except* ``session_id`` (``Faults.foreign``)."""
        deliver = self.deliver if isinstance(message, dict) and "channel" in message else self.deliver_to_session
        return sum(deliver(sid, message) for sid in list(self._by_session) if sid != session_id)

    def broadcast(self, message: Any) -> int:
        """Queue any JSON value, unchecked, for every client (``Sandbox.inject``): a dict reaches the clients
        that want its channel, anything else reaches every client.

        :returns: how many clients it was queued for.
        """
        if self._frozen:
            return 0
        count = 0
        for client in self._clients.values():
            channel = message.get("channel") if isinstance(message, dict) else None
            if not isinstance(channel, str) or client.wants(channel):
                client.queue.append(message)
                client.wake()
                count += 1
        return count

    def client_count(self, session_id: str | None = None) -> int:
        if session_id is None:
            return len(self._clients)
        return len(self._by_session.get(session_id, ()))

    # ----- state changes (called on the loop thread) ------------------------------------------------

    def _remove(self, cid: str) -> None:
        client = self._clients.pop(cid, None)
        if client is None:
            return
        ids = self._by_session.get(client.session_id)
        if ids is not None:
            ids.discard(cid)
            if not ids:
                del self._by_session[client.session_id]
        client.wake()

    def expire_clients(self) -> int:
        """Forget every current client (their next connect gets 402); returns how many."""
        ids = list(self._clients)
        for cid in ids:
            self._remove(cid)
        return len(ids)

    def drop_session(self, session_id: str) -> None:
        for cid in list(self._by_session.get(session_id, ())):
            self._remove(cid)

    def close(self) -> None:
        """Answer every held connect now (used before the HTTP server shuts down)."""
        self._closing = True
        for client in self._clients.values():
            client.wake()

    def reopen(self) -> None:
        self._closing = False
        self._frozen = False

    def freeze(self) -> None:
        """Deliver nothing more (the server is about to stop: ``Faults.outage_after_ack_s``)."""
        self._frozen = True

    def sweep(self) -> int:
        """Forget clients idle for longer than ``max_idle_s``; returns how many."""
        now = time.monotonic()
        stale = [
            c.id for c in self._clients.values() if c.holding == 0 and now - c.last_seen > self.max_idle_s
        ]
        for cid in stale:
            self._remove(cid)
        return len(stale)

    async def sweeper(self, interval_s: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            removed = self.sweep()
            if removed:
                log.debug("forgot %d idle CometD clients", removed)

    # ----- HTTP entry point -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        session = self._sessions.from_cookie(request)
        raw = await self._read_body(request)
        if raw is None:
            return web.json_response(
                [{"successful": False, "error": f"413::Request body over {MAX_BODY_BYTES} bytes"}], status=413
            )
        if session is not None and "no_csrf" not in self.misconfig and not self._sessions.csrf_ok(request, session):
            return web.Response(status=403, text=CSRF_REJECTION_TEXT)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError as exc:
            return web.json_response(
                [{"successful": False, "error": f"400::Malformed JSON: {exc}"}], status=400
            )
        items: list[Any] = parsed if isinstance(parsed, list) else [parsed]
        messages: list[Message] = [m for m in items if isinstance(m, dict)]
        if not messages or len(messages) != len(items):
            return web.json_response(
                [{"successful": False, "error": "400::Body must be a Bayeux message or a JSON array of them"}],
                status=400,
            )
        if session is None:
            return web.Response(
                status=401, text=_dumps([self._unauthenticated(m) for m in messages]), content_type="application/json"
            )

        replies: list[Message] = []
        delivered: list[Message] = []
        connects: list[Message] = []
        for msg in messages:
            if msg.get("channel") == META_CONNECT:
                connects.append(msg)
            else:
                replies.append(self._dispatch(msg, session.id))
        for msg in connects:
            if "long_poll_cut" in self.misconfig:
                try:
                    queued, reply = await asyncio.wait_for(self._connect(msg, session.id), LONG_POLL_CUT_S)
                except asyncio.TimeoutError:
                    return self._cut(request)
                delivered.extend(queued)
                replies.append(reply)
                continue
            queued, reply = await self._connect(msg, session.id)
            delivered.extend(queued)
            replies.append(reply)
        body = replies[:-1] + delivered + replies[-1:] if connects else replies
        response = web.Response(text=_dumps(body), content_type="application/json")
        if any(r.get("channel") == META_HANDSHAKE and r.get("successful") for r in replies):
            # as CometD's own servers do: a browser cookie set by the Bayeux side (clients must keep it)
            response.set_cookie(BROWSER_COOKIE, secrets.token_hex(8), path="/", httponly=True)
        return response

    @staticmethod
    def _cut(request: web.Request) -> web.StreamResponse:
        """Close the connection without a reply, as a proxy whose idle timeout ran out would."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=504)  # never reaches the client: the connection is gone

    async def _read_body(self, request: web.Request) -> bytes | None:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return None
        data = await request.content.read(MAX_BODY_BYTES + 1)
        if len(data) > MAX_BODY_BYTES:
            return None
        return data

    # ----- message handlers ----------------------------------------------------------------------

    @staticmethod
    def _reply(msg: Message, **fields: Any) -> Message:
        reply: Message = {"channel": msg.get("channel")}
        if "id" in msg:
            reply["id"] = msg["id"]
        reply.update(fields)
        return reply

    def _unknown_client(self, msg: Message) -> Message:
        return self._reply(
            msg,
            successful=False,
            error="402::Unknown client",
            advice={"reconnect": "handshake", "interval": 0},
        )

    def _unauthenticated(self, msg: Message) -> Message:
        if msg.get("channel") == META_HANDSHAKE:
            return self._reply(
                msg,
                successful=False,
                error="401::No authenticated HTTP session: JSESSIONID cookie missing or expired, log in over REST first",
                advice={"reconnect": "none"},
            )
        return self._unknown_client(msg)

    def _advice(self) -> dict[str, Any]:
        if self._faults.omit_timeout_advice:
            return {"interval": 0, "reconnect": "retry"}
        return {"interval": 0, "timeout": self.timeout_ms, "reconnect": "retry"}

    def _client_of(self, msg: Message, session_id: str) -> _Client | None:
        cid = msg.get("clientId")
        client = self._clients.get(cid) if isinstance(cid, str) else None
        if "cometd_rerouted" in self.misconfig:
            return None  # every message after the handshake reaches a node that never saw the client
        if client is None or client.session_id != session_id:
            return None
        return client

    def _dispatch(self, msg: Message, session_id: str) -> Message:
        channel = msg.get("channel")
        if channel == META_HANDSHAKE:
            return self._handshake(msg, session_id)
        if not isinstance(channel, str) or not channel.startswith("/"):
            return self._reply(msg, successful=False, error=f"400::Invalid channel {channel!r}")
        client = self._client_of(msg, session_id)
        if client is None:
            return self._unknown_client(msg)
        client.last_seen = time.monotonic()
        if channel == META_SUBSCRIBE:
            return self._subscription(msg, client, add=True)
        if channel == META_UNSUBSCRIBE:
            return self._subscription(msg, client, add=False)
        if channel == META_DISCONNECT:
            self._remove(client.id)
            return self._reply(msg, successful=True, clientId=client.id)
        if channel.startswith("/meta/"):
            return self._reply(msg, successful=False, error=f"400::Unknown meta channel {channel}")
        return self._reply(msg, successful=False, error=f"403::Publishing to {channel} is not allowed")

    def _handshake(self, msg: Message, session_id: str) -> Message:
        types = msg.get("supportedConnectionTypes")
        if isinstance(types, list) and "long-polling" not in types:
            return self._reply(
                msg,
                successful=False,
                error=f"406::None of the connection types {types!r} is supported; use long-polling",
                supportedConnectionTypes=["long-polling"],
                advice={"reconnect": "none"},
            )
        if self._faults.refuse_handshakes:
            return self._reply(
                msg,
                successful=False,
                error="500::Handshake refused (sandbox fault refuse_handshakes)",
                advice={"reconnect": "handshake", "interval": 0},
            )
        cid = secrets.token_hex(13)
        client = _Client(id=cid, session_id=session_id, last_seen=time.monotonic())
        self._clients[cid] = client
        self._by_session.setdefault(session_id, set()).add(cid)
        return self._reply(
            msg,
            version="1.0",
            minimumVersion="1.0",
            supportedConnectionTypes=["long-polling"],
            clientId=cid,
            successful=True,
            advice=self._advice(),
        )

    def _subscription(self, msg: Message, client: _Client, *, add: bool) -> Message:
        sub = msg.get("subscription")
        subs = sub if isinstance(sub, list) else [sub]
        bad = [s for s in subs if not isinstance(s, str) or not s.startswith("/") or s.startswith("/meta/")]
        if add and "subscription_refused" in self.misconfig:
            return self._reply(msg, successful=False, subscription=sub, error=f"403::Subscription to {sub} refused")
        if not subs or bad:
            return self._reply(
                msg, successful=False, subscription=sub, error=f"403::Invalid subscription {bad or sub!r}"
            )
        for s in subs:
            assert isinstance(s, str)
            if add:
                client.subscriptions.add(s)
            else:
                client.subscriptions.discard(s)
        return self._reply(msg, successful=True, subscription=sub, clientId=client.id)

    async def _connect(self, msg: Message, session_id: str) -> tuple[list[Message], Message]:
        client = self._client_of(msg, session_id)
        if client is None:
            return [], self._unknown_client(msg)
        client.last_seen = time.monotonic()
        timeout_ms: float = self.timeout_ms
        advice = msg.get("advice")
        if isinstance(advice, dict):
            asked = advice.get("timeout")
            if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked >= 0:
                timeout_ms = asked
        if not client.connected_once:
            client.connected_once = True
            timeout_ms = 0
        if "multiple_clients" in self.misconfig and timeout_ms > 0:
            # as a CometD server does when another tab holds a connect on the same browser cookie
            queued, client.queue = client.queue, []
            advice = {**self._advice(), "multiple-clients": True, "interval": MULTIPLE_CLIENTS_INTERVAL_MS}
            return queued, self._reply(msg, successful=True, advice=advice)
        # A new connect supersedes a held one, which answers now with what is queued.
        client.wake()
        client.connects += 1
        seq = client.connects
        client.holding += 1
        try:
            if not client.queue and timeout_ms > 0 and not self._closing:
                loop = asyncio.get_running_loop()
                fut: asyncio.Future[None] = loop.create_future()
                client.waiter = fut
                # A timer rather than asyncio.wait_for: no extra task per held connect.
                timer = loop.call_later(timeout_ms / 1000.0, _resolve, fut)
                try:
                    await fut
                finally:
                    timer.cancel()
                    if client.waiter is fut:
                        client.waiter = None
            silenced = False
            while self._faults.silent and not self._closing and self._clients.get(client.id) is client:
                silenced = True
                await asyncio.sleep(_SILENT_POLL_S)
        finally:
            client.holding -= 1
            client.last_seen = time.monotonic()
        if self._clients.get(client.id) is not client:
            return [], self._unknown_client(msg)
        if silenced and client.connects != seq:
            # the client gave up on this long-poll and sent a newer one: the queue is the newer one's
            return [], self._reply(msg, successful=True, advice=self._advice())
        queued, client.queue = client.queue, []
        return queued, self._reply(msg, successful=True, advice=self._advice())
