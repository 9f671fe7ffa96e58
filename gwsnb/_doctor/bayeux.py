"""A raw Bayeux peer for the doctor: handshake, subscribe, connect, each kept as an exchange with its
replies, so that a step can say how long a connect was held and what the server advised.

It rides the probe's cookie jar and CSRF header, never the ``Authorization`` header, as gwsnb's own
CometD client does (docs/cometd.md).
"""

from __future__ import annotations

import itertools
from typing import Any

from ..protocol import META_CONNECT, META_DISCONNECT, META_HANDSHAKE, META_SUBSCRIBE
from .probe import Exchange, Probe

__all__ = ["BayeuxPeer", "Message", "error_of", "reply_to"]

Message = dict[str, Any]
#: CometD's default long-poll timeout when the server advises none
DEFAULT_TIMEOUT_MS = 30000


def reply_to(messages: list[Message], channel: str) -> Message | None:
    """The first reply on ``channel`` among ``messages``."""
    return next((m for m in messages if m.get("channel") == channel), None)


def error_of(reply: Message | None) -> str:
    """The ``error`` of an unsuccessful reply ("402::Unknown client"), or ""."""
    if reply is None or reply.get("successful") is True:
        return ""
    return str(reply.get("error") or "unsuccessful, no error given")


class BayeuxPeer:
    """One CometD client at ``url`` on the probe's HTTP session."""

    def __init__(self, probe: Probe, url: str) -> None:
        self.probe = probe
        self.url = url
        self.client_id: str | None = None
        self.advice: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"BayeuxPeer({self.url!r}, connected={self.client_id is not None})"

    @property
    def timeout_ms(self) -> int:
        """The long-poll timeout the server advised (CometD's default when it advised none)."""
        value = self.advice.get("timeout")
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else DEFAULT_TIMEOUT_MS

    async def send(self, messages: list[Message], timeout: float | None = None) -> tuple[Exchange, list[Message]]:
        for m in messages:
            m["id"] = str(next(self._ids))
            if self.client_id is not None and m["channel"] != META_HANDSHAKE:
                m["clientId"] = self.client_id
        ex = await self.probe.request("POST", self.url, auth=False, body=messages, timeout=timeout, csrf=True)
        body = ex.body if isinstance(ex.body, list) else []
        replies = [m for m in body if isinstance(m, dict)]
        for m in replies:
            if isinstance(m.get("advice"), dict) and m.get("channel") in (META_HANDSHAKE, META_CONNECT):
                self.advice = {**self.advice, **m["advice"]}
        return ex, replies

    async def handshake(self) -> tuple[Exchange, Message | None]:
        ex, replies = await self.send([{"channel": META_HANDSHAKE, "version": "1.0",
                                        "supportedConnectionTypes": ["long-polling"]}])
        reply = reply_to(replies, META_HANDSHAKE)
        if reply is not None and reply.get("successful") is True and isinstance(reply.get("clientId"), str):
            self.client_id = reply["clientId"]
        return ex, reply

    async def subscribe(self, channel: str) -> tuple[Exchange, Message | None]:
        ex, replies = await self.send([{"channel": META_SUBSCRIBE, "subscription": channel}])
        return ex, reply_to(replies, META_SUBSCRIBE)

    async def connect(self, *, hold_ms: int | None = None,
                      timeout: float | None = None) -> tuple[Exchange, Message | None, list[Message]]:
        """One ``/meta/connect``; ``hold_ms`` asks the server to hold it at most that long.

        :returns: the exchange, the connect reply, and the other messages delivered with it.
        """
        message: Message = {"channel": META_CONNECT, "connectionType": "long-polling"}
        if hold_ms is not None:
            message["advice"] = {"timeout": hold_ms}
        ex, replies = await self.send([message], timeout=timeout)
        reply = reply_to(replies, META_CONNECT)
        return ex, reply, [m for m in replies if m is not reply]

    async def disconnect(self) -> None:
        if self.client_id is not None:
            await self.send([{"channel": META_DISCONNECT}], timeout=5.0)
            self.client_id = None
