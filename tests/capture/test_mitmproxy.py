"""mitmproxy's HAR export (``mitmdump --set hardump=FILE``) of gwsnb's own client against the sandbox: the
capture reads, and its calls frame matches the live batch.

mitmproxy runs from its own virtual environment (``make mitmproxy`` creates ``.venv-mitmproxy``: its
dependencies are pinned tighter than gwsnb's), as a real proxy on 127.0.0.1 that the client reaches
through ``HTTP_PROXY``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas.testing as pdt
import pytest

import gwsnb
from gwsnb.capture import CaptureSecretsWarning
from gwsnb.sandbox import Sandbox
from tests.capture.test_redact import assert_gone

ROOT = Path(__file__).resolve().parents[2]
MITMDUMP = Path(os.environ.get("GWSNB_MITMDUMP", ROOT / ".venv-mitmproxy" / "bin" / "mitmdump"))

pytestmark = [pytest.mark.mitmproxy,
              pytest.mark.skipif(not MITMDUMP.exists(), reason=f"needs `make mitmproxy` ({MITMDUMP} missing)")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mitmdump exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"mitmdump did not listen on {port} within {limit} s")


def test_mitmproxy_har_of_gwsnb_reads_and_matches_the_live_batch(sandbox: Sandbox, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    port, har = free_port(), tmp_path / "mitmproxy.har"
    process = subprocess.Popen(
        [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port), "--quiet",
         "--set", f"hardump={har}", "--set", f"confdir={tmp_path / 'mitmproxy-conf'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port, process)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0) as client:
            assert client._rest.proxy == f"http://127.0.0.1:{port}"
            batch = client.get_chained_records(sandbox.record_handles[:3] + [987654], every_handle=True,
                                               campaign_name=sandbox.campaign_name,
                                               application_id=sandbox.application_id, retries=0,
                                               progress=False)
            secrets = {"password": [sandbox.password], "cookie": list(client._rest.cookies().values()),
                       "csrf": list(client._rest.csrf_headers().values()),
                       "client_id": [client._cometd.client_id] if client._cometd and client._cometd.client_id else []}
    finally:
        process.send_signal(signal.SIGINT)  # mitmproxy writes the HAR when it shuts down
        _, err = process.communicate(timeout=60)
    assert har.exists(), err.decode(errors="replace")[-2000:]
    with pytest.warns(CaptureSecretsWarning, match="Authorization header"):
        capture = gwsnb.read_capture(har)
    assert capture.creator.kind == "mitmproxy"
    live = batch.calls_frame().sort_values("record_handle", ignore_index=True)
    got = capture.calls_frame().sort_values("record_handle", ignore_index=True)
    same = ["record_handle", "reference_id", "status", "records", "attempts"]
    pdt.assert_frame_equal(got[same], live[same])
    assert list(got.columns) == list(live.columns)
    pdt.assert_frame_equal(capture.records_frame().sort_values(["record_handle", "chain_n"], ignore_index=True),
                           batch.records_frame().sort_values(["record_handle", "chain_n"], ignore_index=True),
                           check_categorical=False)
    assert len(capture.sessions) == 1
    assert capture.requests_frame()["kind"].eq("connect").sum() >= 2
    # and its redacted copy keeps none of them, and frames the same
    redacted = tmp_path / "mitmproxy-redacted.har"
    capture.redact(redacted)
    assert all(secrets[kind] for kind in ("cookie", "csrf", "client_id"))
    assert_gone(redacted, secrets, sandbox.username)
    again = gwsnb.read_capture(redacted)
    pdt.assert_frame_equal(again.calls_frame(), capture.calls_frame())
    pdt.assert_frame_equal(again.records_frame(), capture.records_frame())
