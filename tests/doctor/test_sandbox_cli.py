"""``gwsnb sandbox --misconfigure NAME[,NAME...]`` plays the failures from a shell, and ``gwsnb doctor``
against it prints the cause and its fix; an unknown name is refused with the valid ones listed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .test_cli import ENV, run


def _gwsnb() -> list[str]:
    exe = Path(sys.executable).with_name("gwsnb")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gwsnb.cli"]


def test_unknown_misconfiguration_exit_2() -> None:
    proc = subprocess.run([*_gwsnb(), "sandbox", "--port", "0", "--misconfigure", "cometd_path,bogus"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "'bogus'" in proc.stderr and "long_poll_cut" in proc.stderr


def test_doctor_against_a_misconfigured_sandbox_process(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen([*_gwsnb(), "sandbox", "--port", "0", "--chains", "20", "--misconfigure",
                             "cometd_rerouted"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, banner
            banner += line
        assert "misconfigured   : cometd_rerouted" in banner
        url = banner.split("running at ")[1].split()[0]
        monkeypatch.setenv(ENV, "agent")
        code, out, _ = run("--url", url, "--user", "agent", "--password-env", ENV, "--quick")
        assert code == 1
        assert "[cometd_rerouted]" in out and "fix: route every request of one JSESSIONID" in out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
