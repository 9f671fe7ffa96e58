"""The notification layer against cometd-nodejs-server 1.2.1 (npm), CometD's own Node server: handshake
(whose ``BAYEUX_BROWSER`` cookie must come back on every request), subscribe, receive GWS-shaped
notifications in order, correlation, re-handshake and re-subscribe after a server restart, and a server
that disappears for a while."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator

import pytest

from gwsnb._engine.correlate import Correlator
from gwsnb._wire.cometd import CometdSession
from gwsnb.results import CallTimings, ChainedRecordResult, Event

from ._node_peers import PEERS, NodeBayeuxServer, until
from .test_faye import gws_messages

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(shutil.which("node") is None
                       or not (PEERS / "node_modules" / "cometd-nodejs-server").is_dir(),
                       reason="node and the npm peers (make peers) are needed"),
]


class CometdServer(NodeBayeuxServer):
    """``node cometd_server.js`` (cometd-nodejs-server), which also reports the cookies each request carried."""

    def __init__(self, timeout_ms: int = 3000) -> None:
        super().__init__("cometd_server.js", str(timeout_ms))

    def cookies(self) -> list[str]:
        return list(self.control("GET", "/cookies")["cookies"])


@pytest.fixture()
def server() -> Iterator[CometdServer]:
    peer = CometdServer()
    peer.start()
    yield peer
    peer.stop()


async def test_handshake_subscribe_receive_and_rehandshake_after_restart(server: CometdServer) -> None:
    received: list[Event] = []
    session = CometdSession(server.url, on_messages=received.extend)
    started = time.monotonic()
    await session.open(timeout=10)
    # the first connect carries advice.timeout = 0: the server answers it at once
    assert time.monotonic() - started < 2.5
    try:
        await until(lambda: server.subscribers() >= 1)
        # the session is found by the BAYEUX_BROWSER cookie set at handshake: the jar sent it back
        assert "BAYEUX_BROWSER" in server.cookies()
        await asyncio.to_thread(server.publish, *gws_messages("r1", 10, 3))
        await until(lambda: sum(e.channel == "/v2/me/outbound" for e in received) == 4)
        outbound = [e.data for e in received if e.channel == "/v2/me/outbound"]
        assert [d["notificationType"] for d in outbound] == ["ChainedRecord"] * 3 + ["ChainedRecordsDataEnd"]
        first_client = session.client_id
        assert session.handshakes == 1 and session.state == "connected"

        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.0)  # down for a while: the session sees network errors and keeps trying
        assert session.state == "reconnecting" and not session.connected.is_set()
        await asyncio.to_thread(server.start)
        # 402::Unknown client from the new process leads to a new handshake and a re-subscribe
        await until(lambda: server.subscribers() >= 1, timeout=20)
        await until(lambda: session.connected.is_set(), timeout=10)
        assert session.handshakes >= 2 and session.client_id != first_client
        await asyncio.to_thread(server.publish, *gws_messages("r2", 20, 1))
        await until(lambda: any(e.data.get("referenceId") == "r2" for e in received))
        connects = [e.message for e in session.event_log if e.channel == "/meta/connect"]
        assert any(str(m.get("error", "")).startswith("402") for m in connects)
        metas = [e.channel for e in session.event_log if e.channel and e.channel.startswith("/meta/")]
        assert metas.count("/meta/handshake") >= 2 and metas.count("/meta/subscribe") >= 2
    finally:
        await session.close(timeout=5)
    assert session.state == "closed"


async def test_correlation_of_cometd_server_delivered_notifications(server: CometdServer) -> None:
    correlator = Correlator()
    session = CometdSession(server.url, on_messages=correlator.feed)
    await session.open(timeout=10)
    try:
        await until(lambda: server.subscribers() >= 1)
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[ChainedRecordResult]] = {}
        for ref, handle in (("a", 100), ("b", 200)):
            result = ChainedRecordResult(ref, handle, "C", 1, "/devices/dev-1", CallTimings(sent=time.time()))
            futures[ref] = loop.create_future()
            correlator.register(ref, handle, "/devices/dev-1", result, futures[ref])
        a, b = gws_messages("a", 100, 3), gws_messages("b", 200, 2)
        await asyncio.to_thread(server.publish, a[0], b[0], a[1], b[1], a[2], b[2], a[3])
        done_a = await asyncio.wait_for(futures["a"], 10)
        done_b = await asyncio.wait_for(futures["b"], 10)
        assert [r["userData"]["chain_n"] for r in done_a.records] == [0, 1, 2]
        assert [r["recordHandle"] for r in done_b.records] == [200, 201]
        assert correlator.counts["malformed"] == 0 and correlator.unmatched == 0
    finally:
        await session.close(timeout=5)
