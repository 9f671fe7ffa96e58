"""Reconnect: a forced 402::Unknown client, expired HTTP sessions and a sandbox restart on the same port."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex


@pytest.fixture()
def own() -> Iterator[Sandbox]:
    with Sandbox(chains=20, seed=5, cometd_timeout_ms=2000) as sb:
        yield sb


def _call(c: gwsnb.GwsClient, sb: Sandbox, timeout: float = 15.0) -> gwsnb.ChainedRecordResult:
    handle = sb.record_handles[0]
    result = c.get_chained_record(handle, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                  timeout=timeout)
    ChainIndex(sb).assert_matches(handle, result.records)
    return result


def _wait(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_rehandshake_after_forced_402(own: Sandbox) -> None:
    with gwsnb.connect(own.url, own.username, own.password, timeout=10.0) as c:
        _call(c, own)
        assert c.handshakes == 1
        assert own.expire_cometd_clients() >= 1
        _wait(lambda: c.handshakes >= 2 and own.cometd_client_count() >= 1 and c.cometd_connected)
        _call(c, own)
        errors = [e.message.get("error") for e in c.event_log if e.channel == "/meta/connect"]
        assert any(isinstance(err, str) and err.startswith("402") for err in errors)


def test_call_after_http_sessions_expire(own: Sandbox) -> None:
    with gwsnb.connect(own.url, own.username, own.password, timeout=10.0) as c:
        _call(c, own)
        before = c.handshakes
        own.expire_http_sessions()
        # notifications published before CometD rides on the new HTTP session are lost (no replay), so
        # wait for the re-login + re-handshake the client does by itself, then call
        _wait(lambda: c.handshakes > before and own.cometd_client_count() >= 1 and c.cometd_connected)
        _call(c, own)


def test_reconnect_after_sandbox_restart(own: Sandbox) -> None:
    with gwsnb.connect(own.url, own.username, own.password, timeout=10.0) as c:
        _call(c, own)
        own.stop()
        own.start()
        _wait(lambda: own.cometd_client_count() >= 1 and c.cometd_connected, timeout=20)
        _call(c, own)
        assert c.handshakes >= 2
