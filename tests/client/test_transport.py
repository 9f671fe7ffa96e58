"""The transport: one cookie jar for REST and CometD, TLS against the sandbox's throwaway CA, and the async
lifecycle (``connect_async``, ``aclose``, ``async with``) from a plain asyncio program."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import gwsnb
from gwsnb._wire import rest as _rest
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex


def _call(c: gwsnb.GwsClient, sb: Sandbox, handle: int | None = None) -> gwsnb.ChainedRecordResult:
    handle = sb.record_handles[0] if handle is None else handle
    result = c.get_chained_record(handle, campaign_name=sb.campaign_name, application_id=sb.application_id)
    ChainIndex(sb).assert_matches(handle, result.records)
    return result


# --- one cookie jar -----------------------------------------------------------------------------

def test_rest_and_cometd_share_one_cookie_jar(sandbox: Sandbox) -> None:
    sb = sandbox
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        handle = sb.record_handles[1]
        _call(c, sb, handle)
        seen = sb.cookies_seen()
        bayeux = seen["POST /api/v2/notifications"]
        rest = seen[f"POST /api/v2/me/outbound-records/{handle}"]
        # JSESSIONID was set by the REST side (GET /me) and rides on the Bayeux POSTs ...
        assert "JSESSIONID" in bayeux
        # ... and BAYEUX_BROWSER, set by the Bayeux side on the handshake, rides on the REST POSTs
        assert "BAYEUX_BROWSER" in rest
        assert c._cometd is not None and c._cometd.http_session is c._rest.http


# --- TLS ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_sb() -> Iterator[Sandbox]:
    with Sandbox(chains=30, seed=3, tls=True, cometd_timeout_ms=2000) as sb:
        yield sb


def test_tls_with_the_sandbox_ca(tls_sb: Sandbox) -> None:
    sb = tls_sb
    assert sb.url.startswith("https://") and sb.ca_path is not None
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, verify=sb.ca_path) as c:
        assert c.cometd_connected
        _call(c, sb)


def test_tls_default_verify_refuses_an_unknown_ca(tls_sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(gwsnb.TransportError) as info:
        gwsnb.connect(tls_sb.url, tls_sb.username, tls_sb.password, timeout=10.0)
    message = str(info.value)
    assert "TLS" in message and "certificate" in message and "verify=" in message
    assert tls_sb.password not in message


def test_tls_ca_bundle_from_the_environment(tls_sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls_sb.ca_path is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_sb.ca_path)
    with gwsnb.connect(tls_sb.url, tls_sb.username, tls_sb.password, timeout=10.0) as c:
        _call(c, tls_sb)


def test_tls_verify_false_warns_once(tls_sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rest, "_insecure_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            with gwsnb.connect(tls_sb.url, tls_sb.username, tls_sb.password, timeout=10.0, verify=False) as c:
                _call(c, tls_sb)
    ours = [w for w in caught if "verification is turned off" in str(w.message)]
    assert len(ours) == 1


def test_verify_names_an_unreadable_bundle(tls_sb: Sandbox) -> None:
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        gwsnb.connect(tls_sb.url, tls_sb.username, tls_sb.password, verify="/no/such/ca.pem")
    assert info.value.field == "verify"
    with pytest.raises(gwsnb.InvalidParameterError):
        gwsnb.connect(tls_sb.url, tls_sb.username, tls_sb.password, verify=1)  # type: ignore[arg-type]


def test_cli_sandbox_tls() -> None:
    """``gwsnb sandbox --tls`` prints its CA file; a client that trusts it connects and calls."""
    exe = Path(sys.executable).with_name("gwsnb")
    proc = subprocess.Popen([str(exe), "sandbox", "--tls", "--port", "0", "--chains", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, f"gwsnb sandbox --tls exited early: {banner}"
            banner += line
        url = re.search(r"running at (\S+)", banner)
        ca = re.search(r"CA certificate\s*:\s*(\S+)", banner)
        assert url and ca and url.group(1).startswith("https://"), banner
        with gwsnb.connect(url.group(1), "agent", "agent", timeout=10.0, verify=ca.group(1)) as c:
            handle = int(re.search(r"record handles\s*:\s*(\d+)", banner).group(1))  # type: ignore[union-attr]
            result = c.get_chained_record(handle, campaign_name="Campaign1", application_id=134)
            assert result.complete and result.records
    finally:
        proc.terminate()
        proc.wait(15)


# --- the async lifecycle from a plain asyncio program --------------------------------------------

def test_connect_async_aclose_and_async_with(sandbox: Sandbox) -> None:
    sb = sandbox
    handle = sb.record_handles[0]

    async def main() -> tuple[int, int, bool, bool, int]:
        ticks = 0

        async def heartbeat() -> None:  # the program's own loop keeps running while the client works
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        beat = asyncio.create_task(heartbeat())
        client = await gwsnb.connect_async(sb.url, sb.username, sb.password, timeout=10.0)
        # each notification 30 ms late: the call lasts at least 60 ms, during which the caller's loop must
        # keep ticking (a call that blocked it would leave the heartbeat at 0 or 1 tick, however loaded)
        sb.faults.latency_ms = 30
        try:
            before = ticks
            result = await client.get_chained_record_async(handle, campaign_name=sb.campaign_name,
                                                           application_id=sb.application_id)
            during_call = ticks - before
        finally:
            sb.faults.latency_ms = 0
        await client.aclose()
        closed_loop_stopped = client.closed and client._loop is not None and not client._loop.running
        async with await gwsnb.connect_async(sb.url, sb.username, sb.password, timeout=10.0) as c2:
            again = await c2.get_chained_record_async(handle, campaign_name=sb.campaign_name,
                                                      application_id=sb.application_id)
        beat.cancel()
        return len(result.records), len(again.records), closed_loop_stopped, c2.closed, during_call

    expected = len(ChainIndex(sb).keys(handle))
    n1, n2, stopped, closed, during_call = asyncio.run(main())
    assert (n1, n2) == (expected, expected)
    assert stopped and closed
    assert during_call >= 5, during_call


def test_close_from_a_running_loop_does_not_block_it(sandbox: Sandbox) -> None:
    sb = sandbox
    ends = "POST /api/v2/me"

    async def main() -> tuple[bool, bool, bool]:
        client = await gwsnb.connect_async(sb.url, sb.username, sb.password, timeout=10.0)
        assert client._loop is not None
        release = threading.Event()
        original = client._close_async

        async def slow_close() -> None:  # closing waits until the test lets it go
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 10.0)
            await original()

        client._close_async = slow_close  # type: ignore[method-assign]
        client.close()  # returns at once: this loop must not wait for the close
        returned_while_closing = client.closed and client._closing is not None and not client._closing.done()
        calls_refused = False
        try:
            await client.get_chained_record_async(sb.record_handles[0], campaign_name=sb.campaign_name,
                                                  application_id=sb.application_id)
        except gwsnb.TransportError:
            calls_refused = True
        release.set()
        await client.aclose()  # waits for the end of the close started above
        return returned_while_closing, calls_refused, not client._loop.running

    before = sb.request_counts().get(ends, 0)
    returned, refused, stopped = asyncio.run(main())
    assert returned and refused and stopped
    assert sb.request_counts().get(ends, 0) - before >= 2  # Start- and EndContactCenterSession were sent


def test_connect_async_refused_credentials(sandbox: Sandbox) -> None:
    async def main() -> None:
        await gwsnb.connect_async(sandbox.url, sandbox.username, "wrong-password", timeout=10.0)

    def loops() -> int:
        return sum(t.name == "gwsnb-loop" and t.is_alive() for t in threading.enumerate())

    before = loops()
    with pytest.raises(gwsnb.AuthenticationError):
        asyncio.run(main())
    assert loops() == before  # no loop thread is left behind the failed connect
