"""The CometD session's protocol paths that the real peers rarely take, against a small scripted Bayeux
server on a real socket: ``reconnect: none``, a refused subscription, HTTP 401 (re-login), a non-JSON
answer, and the headers and cookies every request carries."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from gwsnb._wire.cometd import CometdSession
from gwsnb._wire.reconnect import ReconnectPolicy
from gwsnb.errors import TransportError


class ScriptedServer:
    """A Bayeux server whose next answers can be scripted; it records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[str], dict[str, str], dict[str, str]]] = []
        self.clients = 0
        self.connect_none = 0  # connects answered with advice reconnect: none
        self.refuse_subscribes = 0
        self.statuses: list[int] = []  # HTTP statuses of the next connects (empty body)
        self.not_json = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        messages = json.loads(await request.read())
        channels = [m.get("channel") for m in messages]
        self.requests.append((channels, dict(request.cookies), dict(request.headers)))
        if "/meta/connect" in channels and not messages[0].get("advice"):
            if self.statuses:
                return web.Response(status=self.statuses.pop(0), text="")
            if self.not_json:
                self.not_json -= 1
                return web.Response(text="<html>proxy error</html>")
            await asyncio.sleep(0.05)  # a short hold
        replies = [self.reply(m) for m in messages]
        response = web.json_response(replies)
        if "/meta/handshake" in channels:
            response.set_cookie("SERVER_COOKIE", f"s{self.clients}", path="/")
        return response

    def reply(self, message: dict[str, Any]) -> dict[str, Any]:
        channel = message.get("channel")
        if channel == "/meta/handshake":
            self.clients += 1
            return {"channel": channel, "successful": True, "clientId": f"c{self.clients}",
                    "advice": {"reconnect": "retry", "interval": 0, "timeout": 500}}
        if channel == "/meta/subscribe":
            if self.refuse_subscribes:
                self.refuse_subscribes -= 1
                return {"channel": channel, "successful": False, "error": "403::busy",
                        "subscription": message.get("subscription")}
            return {"channel": channel, "successful": True, "subscription": message.get("subscription")}
        if channel == "/meta/connect" and self.connect_none:
            self.connect_none -= 1
            return {"channel": channel, "successful": False, "error": "500::going away",
                    "advice": {"reconnect": "none"}}
        return {"channel": channel, "successful": True}

    def channels(self) -> list[str]:
        return [c for channels, _, _ in self.requests for c in channels]


@pytest.fixture()
async def server() -> AsyncIterator[ScriptedServer]:
    scripted = ScriptedServer()
    app = web.Application()
    app.router.add_post("/cometd", scripted.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scripted.url = f"http://127.0.0.1:{port}/cometd"
    yield scripted
    await runner.cleanup()


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def fast() -> ReconnectPolicy:
    return ReconnectPolicy(base=0.01, cap=0.05, max_handshakes=20, window=60.0)


async def test_headers_and_cookies_on_every_request(server: ScriptedServer) -> None:
    session = CometdSession(server.url, headers=lambda: {"X-CSRF-TOKEN": "tok"}, policy=fast())
    await session.open(5)
    try:
        await until(lambda: server.channels().count("/meta/connect") >= 3)
        handshake, *later = server.requests
        assert handshake[0] == ["/meta/handshake"] and "authorization" not in {k.lower() for k in handshake[2]}
        assert all(h.get("X-CSRF-TOKEN") == "tok" for _, _, h in server.requests)
        assert all(c.get("SERVER_COOKIE") == "s1" for _, c, _ in later)  # the handshake's cookie came back
        assert session.state == "connected" and session.riding({"SERVER_COOKIE": "s1"})
        assert not session.riding({"SERVER_COOKIE": "other"})
    finally:
        await session.close()
    assert server.channels()[-1] == "/meta/disconnect" and session.state == "closed"


async def test_reconnect_none_reopens_the_session(server: ScriptedServer) -> None:
    session = CometdSession(server.url, policy=fast())
    await session.open(5)
    try:
        server.connect_none = 1
        await until(lambda: session.reopens == 1 and session.handshakes == 2 and session.connected.is_set())
        assert session.client_id == "c2"
        assert server.channels().count("/meta/subscribe") == 2
    finally:
        await session.close()


async def test_a_refused_subscription_is_tried_again(server: ScriptedServer) -> None:
    server.refuse_subscribes = 1
    with pytest.raises(TransportError) as info:
        await CometdSession(server.url, policy=fast()).open(5)
    assert "403::busy" in str(info.value)
    session = CometdSession(server.url, policy=fast())
    await session.open(5)
    try:
        server.refuse_subscribes = 1  # reopen, and have the first subscription after it refused
        server.connect_none = 1
        await until(lambda: session.reopens == 1 and session.connected.is_set())
        subscribes = server.channels().count("/meta/subscribe")
        assert subscribes >= 4  # the failed open's, this open's, the refused one, its retry
        assert session.handshakes == 2  # the retry re-subscribed without a new handshake
    finally:
        await session.close()


async def test_http_401_logs_in_again_before_the_next_request(server: ScriptedServer) -> None:
    refreshed: list[float] = []

    async def refresh() -> None:
        refreshed.append(time.monotonic())

    session = CometdSession(server.url, refresh=refresh, policy=fast())
    await session.open(5)
    try:
        server.statuses = [401]
        await until(lambda: len(refreshed) == 1 and session.connected.is_set())
        assert session.policy.failures == 0
        await asyncio.sleep(0.2)
        assert len(refreshed) == 1  # once per refusal
    finally:
        await session.close()


async def test_a_non_json_answer_is_a_failure_then_the_session_recovers(server: ScriptedServer) -> None:
    session = CometdSession(server.url, policy=fast())
    await session.open(5)
    try:
        polls = server.channels().count("/meta/connect")
        server.not_json = 2
        await until(lambda: server.channels().count("/meta/connect") >= polls + 3 and session.connected.is_set())
        assert session.handshakes == 1 and session.policy.failures == 0
    finally:
        await session.close()
