"""The official CometD JavaScript client (npm ``cometd`` + ``cometd-nodejs-client``, run by node) against
the sandbox: handshake with the session cookie and CSRF token obtained over REST by this test,
subscribe to ``/v2/me/outbound``, receive a whole GetChainedRecord sequence; re-handshake after 402."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwsnb.sandbox import Sandbox

from .conftest import RawGws

PEERS = Path(__file__).resolve().parents[1] / "peers"
SCRIPT = PEERS / "sandbox_cometd_client.js"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        shutil.which("node") is None or not (PEERS / "node_modules" / "cometd").is_dir(),
        reason="node or the npm test peers (make peers) are missing",
    ),
]


class NodePeer:
    def __init__(self, sb: Sandbox, gws: RawGws) -> None:
        cookie = gws.http.cookies.get("JSESSIONID")
        assert cookie and gws.token
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT), sb.notifications_url, cookie, gws.token],
            cwd=PEERS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def next(self, timeout: float = 15) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            raise AssertionError(f"no output from the node peer within {timeout} s {err}") from None

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            line = self.next()
            if line["event"] == event:
                return line

    def messages_until_data_end(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while True:
            line = self.next()
            if line["event"] != "message":
                continue
            got.append(line["message"])
            if len(got) >= 2 and got[-2]["data"].get("notificationType") == "ChainedRecordsDataEnd":
                return got

    def stop(self) -> int:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def node_peer(sb: Sandbox, gws: RawGws) -> Iterator[NodePeer]:
    peer = NodePeer(sb, gws)
    yield peer
    if peer.proc.poll() is None:
        peer.stop()


def _expected_kinds(sb: Sandbox, handle: int) -> list[tuple[str, str]]:
    df = sb.calling_list
    chain_id = df.loc[df["record_handle"] == handle, "chain_id"].iloc[0]
    n = int((df["chain_id"] == chain_id).sum())
    return [("/v2/me/outbound", "ChainedRecord"), ("/me/internal", "ChainedRecord")] * n + [
        ("/v2/me/outbound", "ChainedRecordsDataEnd"),
        ("/me/internal", "ChainedRecordsDataEnd"),
    ]


def _kinds(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (m["channel"], m["data"]["notificationType"] if m["channel"] == "/v2/me/outbound" else m["data"]["userData"]["GSW_USER_EVENT"])
        for m in messages
    ]


def test_official_cometd_client_receives_whole_sequence(sb: Sandbox, gws: RawGws, node_peer: NodePeer) -> None:
    hs = node_peer.wait_for("handshake")
    assert hs["successful"] is True
    assert node_peer.wait_for("subscribed")["successful"] is True
    handle = sb.record_handles[0]
    assert gws.get_chained_record(handle, referenceId="node-1").json() == {"statusCode": 0}
    got = node_peer.messages_until_data_end()
    assert _kinds(got) == _expected_kinds(sb, handle)
    assert all(m["data"]["referenceId"] == "node-1" for m in got if m["channel"] == "/v2/me/outbound")
    assert got[-2]["data"]["record"]["recordHandle"] == handle
    assert node_peer.stop() == 0
    assert sb.cometd_client_count() == 0  # it disconnected


def test_official_cometd_client_rehandshakes_after_402(sb: Sandbox, gws: RawGws, node_peer: NodePeer) -> None:
    assert node_peer.wait_for("subscribed")["successful"] is True
    sb.expire_cometd_clients()
    failure = node_peer.wait_for("connect-failure")
    assert failure["error"] == "402::Unknown client"
    assert node_peer.wait_for("handshake")["successful"] is True
    assert node_peer.wait_for("subscribed")["successful"] is True
    handle = sb.record_handles[1]
    gws.get_chained_record(handle)
    assert _kinds(node_peer.messages_until_data_end()) == _expected_kinds(sb, handle)
