"""``gwsnb sandbox`` in a subprocess: serves on the given port, answers GET /me with Basic auth, stops on
SIGINT (and SIGTERM) with exit status 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gwsnb.cli import build_parser, main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gwsnb() -> list[str]:
    exe = Path(sys.executable).with_name("gwsnb")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gwsnb.cli"]


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*_gwsnb(), "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    banner = ""
    while "Press Ctrl-C" not in banner:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"gwsnb sandbox exited early: {banner}{err}")
        banner += line
    assert banner.startswith("GWS sandbox running at"), banner
    return proc, banner


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_sandbox_serves_and_stops(sig: signal.Signals) -> None:
    port = _free_port()
    proc, banner = _start("--port", str(port), "--chains", "50", "--seed", "2")
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        assert url in banner
        assert "device path" in banner and "record handles" in banner and "application id" in banner
        resp = requests.get(url + "/me", auth=("agent", "agent"), timeout=10)
        assert resp.status_code == 200
        assert resp.json()["user"]["userName"] == "agent"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in out
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url + "/me", auth=("agent", "agent"), timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_custom_user_and_faults(tmp_path: Path) -> None:
    port = _free_port()
    proc, banner = _start("--port", str(port), "--chains", "20", "--user", "bob", "--password", "pw-XYZ-123",
                     "--error-handles", "1,2", "--latency-ms", "1")
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        assert requests.get(url + "/me", auth=("agent", "agent"), timeout=10).status_code == 401
        assert requests.get(url + "/me", auth=("bob", "pw-XYZ-123"), timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "pw-XYZ-123" not in banner + out  # a chosen password is not echoed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_arguments() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "--error-handles", "7,x"])
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "--latency-ms", "-1"])
    assert main([]) == 2


def test_cli_port_in_use_fails_cleanly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([*_gwsnb(), "sandbox", "--port", str(port), "--chains", "5"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert "gwsnb sandbox:" in proc.stderr
