"""Shared fixtures of the sandbox tests: a running Sandbox and a raw HTTP + Bayeux peer written by hand.

The peer (:class:`RawGws`) uses only ``requests`` and JSON written here, never a CometD library, so that
the sandbox is checked against the contract rather than against our own client.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from gwsnb.sandbox import Sandbox

Message = dict[str, Any]


class RawGws:
    """One HTTP session with the sandbox (Basic auth, JSESSIONID, CSRF) and at most one CometD client."""

    def __init__(self, sb: Sandbox, *, login: bool = True) -> None:
        self.sb = sb
        self.http = requests.Session()
        self._ids = itertools.count(1)
        self.client_id: str | None = None
        self.token: str | None = None
        if login:
            self.login()

    def login(self) -> requests.Response:
        resp = self.http.get(self.sb.url + "/me", auth=(self.sb.username, self.sb.password), timeout=10)
        assert resp.status_code == 200, resp.text
        self.token = resp.headers["X-CSRF-TOKEN"]
        self.http.headers["X-CSRF-TOKEN"] = self.token
        return resp

    def close(self) -> None:
        self.http.close()

    # REST
    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.http.post(self.sb.url + path, json=body, timeout=10, **kw)

    def get_chained_record(self, handle: int | str, **overrides: Any) -> requests.Response:
        body: dict[str, Any] = {
            "operationName": "GetChainedRecord",
            "applicationId": self.sb.application_id,
            "campaignName": self.sb.campaign_name,
            "devicePath": self.sb.device_path,
            "referenceId": f"ref-{handle}",
        }
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not _DROP}
        return self.post(f"/me/outbound-records/{handle}", body)

    # Bayeux
    def next_id(self) -> str:
        return str(next(self._ids))

    def bayeux(self, messages: list[Message], timeout: float = 10) -> requests.Response:
        return self.http.post(self.sb.notifications_url, json=messages, timeout=timeout)

    def handshake(self) -> Message:
        resp = self.bayeux(
            [
                {
                    "channel": "/meta/handshake",
                    "version": "1.0",
                    "supportedConnectionTypes": ["long-polling"],
                    "id": self.next_id(),
                }
            ]
        )
        assert resp.status_code == 200, resp.text
        reply = resp.json()[0]
        assert reply["successful"] is True, reply
        self.client_id = reply["clientId"]
        return reply

    def connect(self, timeout_ms: int | None = None, http_timeout: float = 10) -> list[Message]:
        msg: Message = {
            "channel": "/meta/connect",
            "clientId": self.client_id,
            "connectionType": "long-polling",
            "id": self.next_id(),
        }
        if timeout_ms is not None:
            msg["advice"] = {"timeout": timeout_ms}
        resp = self.bayeux([msg], timeout=http_timeout)
        assert resp.status_code == 200, resp.text
        return list(resp.json())

    def subscribe(self, channel: str | list[str] = "/v2/me/outbound") -> Message:
        resp = self.bayeux(
            [{"channel": "/meta/subscribe", "clientId": self.client_id, "subscription": channel, "id": self.next_id()}]
        )
        reply = resp.json()[0]
        assert reply["successful"] is True, reply
        return reply

    def open(self, channel: str | list[str] | None = "/v2/me/outbound") -> None:
        """Handshake, first connect (answered at once) and subscribe."""
        self.handshake()
        self.connect(timeout_ms=0)
        if channel is not None:
            self.subscribe(channel)

    def collect(
        self, until: Callable[[list[Message]], bool], deadline_s: float = 10.0, poll_ms: int = 500
    ) -> list[Message]:
        """Long-poll, gathering non-meta messages, until ``until(messages)`` or the deadline."""
        got: list[Message] = []
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for m in self.connect(timeout_ms=poll_ms):
                if m.get("channel") == "/meta/connect":
                    assert m["successful"] is True, m
                else:
                    got.append(m)
            if until(got):
                return got
        return got

    def collect_for(self, seconds: float) -> list[Message]:
        """Everything that arrives within ``seconds`` (to show that something does NOT arrive)."""
        return self.collect(lambda _m: False, deadline_s=seconds, poll_ms=int(seconds * 1000 / 2) or 1)


_DROP = object()
DROP = _DROP  # pass as a get_chained_record override to leave a field out


def data_end_seen(messages: list[Message]) -> bool:
    """True once a ChainedRecordsDataEnd (or an Error) and one message after it arrived."""
    for i, m in enumerate(messages):
        if m.get("data", {}).get("notificationType") in ("ChainedRecordsDataEnd", "Error"):
            return m["data"]["notificationType"] == "Error" or i + 1 < len(messages)
    return False


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def gws(sb: Sandbox) -> Iterator[RawGws]:
    peer = RawGws(sb)
    yield peer
    peer.close()
