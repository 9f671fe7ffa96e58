"""The notification layer against faye 1.4.3 (npm), an independent Bayeux server: handshake, subscribe,
receive GWS-shaped notifications, re-handshake and re-subscribe after a server restart."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gwsnb._engine.correlate import Correlator
from gwsnb._wire.cometd import CometdSession
from gwsnb.errors import ChainedRecordError
from gwsnb.results import CallTimings, ChainedRecordResult, Event

from ._node_peers import PEERS, NodeBayeuxServer, until

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(shutil.which("node") is None or not (PEERS / "node_modules" / "faye").is_dir(),
                       reason="node and the npm peers (make peers) are needed"),
]


@pytest.fixture()
def faye() -> Iterator[NodeBayeuxServer]:
    server = NodeBayeuxServer("faye_server.js")
    server.start()
    yield server
    server.stop()


def gws_messages(ref: str, handle: int, n: int, device: str = "dev-1") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for chain_n in range(n):
        record = {"recordHandle": handle + chain_n, "campaignName": "C", "callingList": "L", "applicationId": 1,
                  "devicePath": f"/devices/{device}", "userData": {"chain_id": 5, "chain_n": chain_n}}
        out.append({"channel": "/v2/me/outbound", "data": {
            "messageType": "OutboundRecordMessage", "notificationType": "ChainedRecord",
            "referenceId": ref, "record": record}})
    out.append({"channel": "/v2/me/outbound", "data": {
        "messageType": "OutboundRecordMessage", "notificationType": "ChainedRecordsDataEnd", "referenceId": ref,
        "record": {"recordHandle": handle, "devicePath": f"/devices/{device}"}}})
    return out


async def test_handshake_subscribe_receive_and_rehandshake_after_restart(faye: NodeBayeuxServer) -> None:
    received: list[Event] = []
    session = CometdSession(faye.url, on_messages=received.extend)
    started = time.monotonic()
    await session.open(timeout=10)
    # faye holds the first connect for its whole timeout (20 s) unless advice.timeout=0 is sent
    assert time.monotonic() - started < 5
    try:
        await until(lambda: faye.subscribers() >= 1)
        await asyncio.to_thread(faye.publish, *gws_messages("r1", 10, 2))
        await until(lambda: sum(e.channel == "/v2/me/outbound" for e in received) == 3)
        assert [e.data["referenceId"] for e in received if e.channel == "/v2/me/outbound"] == ["r1"] * 3
        first_client = session.client_id
        assert session.handshakes == 1

        await asyncio.to_thread(faye.stop)
        await asyncio.to_thread(faye.start)
        # faye's 401::Unknown client leads to a new handshake and a re-subscribe
        await until(lambda: faye.subscribers() >= 1, timeout=20)
        assert session.handshakes >= 2 and session.client_id != first_client
        await asyncio.to_thread(faye.publish, *gws_messages("r2", 20, 1))
        await until(lambda: any(e.data.get("referenceId") == "r2" for e in received))
        metas = [e.channel for e in session.event_log if e.channel and e.channel.startswith("/meta/")]
        assert metas.count("/meta/handshake") >= 2 and "/meta/subscribe" in metas
    finally:
        await session.close(timeout=5)


async def test_correlation_of_faye_delivered_notifications(faye: NodeBayeuxServer) -> None:
    correlator = Correlator()
    session = CometdSession(faye.url, on_messages=correlator.feed)
    await session.open(timeout=10)
    try:
        await until(lambda: faye.subscribers() >= 1)
        loop = asyncio.get_running_loop()
        futures = {}
        for ref, handle in (("a", 100), ("b", 200)):
            result = ChainedRecordResult(ref, handle, "C", 1, "/devices/dev-1", CallTimings(sent=time.time()))
            futures[ref] = loop.create_future()
            correlator.register(ref, handle, "/devices/dev-1", result, futures[ref])
        error_result = ChainedRecordResult("e", 300, "C", 1, "/devices/dev-1", CallTimings(sent=time.time()))
        futures["e"] = loop.create_future()
        correlator.register("e", 300, "/devices/dev-1", error_result, futures["e"])
        # interleave the two chains and publish the Error
        a, b = gws_messages("a", 100, 3), gws_messages("b", 200, 2)
        error = {"channel": "/v2/me/outbound", "data": {"messageType": "OutboundRecordMessage",
                 "notificationType": "Error", "referenceId": "e", "errorCode": 104, "errorMessage": "no"}}
        await asyncio.to_thread(faye.publish, a[0], b[0], a[1], error, b[1], a[2], b[2], a[3])
        done_a = await asyncio.wait_for(futures["a"], 10)
        done_b = await asyncio.wait_for(futures["b"], 10)
        assert [r["userData"]["chain_n"] for r in done_a.records] == [0, 1, 2]
        assert [r["recordHandle"] for r in done_b.records] == [200, 201]
        with pytest.raises(ChainedRecordError) as info:
            await asyncio.wait_for(futures["e"], 10)
        assert info.value.error_code == 104 and info.value.result is error_result
    finally:
        await session.close(timeout=5)
