"""``gwsnb sandbox`` warns when it listens beyond this machine: the warning names the account, says the data
are fake, encourages ``--password`` and never shows a chosen password; on loopback it says nothing.

No test here binds an interface other ones can reach: the rule is checked as a function, the command on
127.0.0.1 (and ``localhost``), and the command on ``0.0.0.0`` / ``::`` only inside a fresh network
namespace (``unshare -rn``), where the one interface is a loopback that is down, so nothing outside can
connect and no traffic leaves the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from gwsnb._cli.exposure import exposure_warning, is_loopback
from gwsnb.cli import main

from .test_cli import _free_port, _gwsnb, _start


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]", "localhost",
                                  "LOCALHOST", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"])
def test_loopback_hosts_print_nothing(host: str) -> None:
    assert is_loopback(host)
    assert exposure_warning(host, 8090, "agent", "agent") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.5", "172.16.3.4", "fe80::1%eth0",
                                  "2001:db8::7", "::ffff:192.168.1.10", "myhost.lan", "128.0.0.1"])
def test_other_hosts_warn_naming_the_account(host: str) -> None:
    assert not is_loopback(host)
    text = exposure_warning(host, 8090, "agent", "agent")
    assert text is not None
    assert "'agent'" in text and "user" in text
    assert "fake" in text
    assert "--password" in text
    assert "8090" in text


def test_warning_names_another_user_and_hides_a_chosen_password() -> None:
    text = exposure_warning("0.0.0.0", 9000, "bob", "s3cret-Pw-42")
    assert text is not None
    assert "'bob'" in text and "fake" in text
    assert "s3cret-Pw-42" not in text
    assert "default password" not in text


def test_warning_for_a_loaded_calling_list_does_not_call_it_fake() -> None:
    text = exposure_warning("0.0.0.0", 9000, "agent", "agent", calling_list="q3.csv")
    assert text is not None
    assert "fake" not in text and "q3.csv" in text


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_command_on_loopback_prints_no_warning(host: str) -> None:
    port = _free_port()
    proc, _banner = _start("--host", host, "--port", str(port), "--chains", "5")
    try:
        # it really serves, so the silence is not that of a sandbox that failed to start
        resp = requests.get(f"http://127.0.0.1:{port}/api/v2/me", auth=("agent", "agent"), timeout=10)
        assert resp.status_code == 200
        _out, err = _stop(proc)
        assert "warning" not in err.lower()
        assert err == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _isolated_network() -> list[str]:
    """A command prefix running its command in a fresh network namespace, or skip when there is none."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([unshare, "-rn", sys.executable, "-c", "import socket; s = socket.socket();"
                            "s.bind(('0.0.0.0', 0))"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no network namespace here: {probe.stderr.strip()}")
    return [unshare, "-rn"]


@pytest.mark.parametrize(("host", "extra"), [("0.0.0.0", []), ("::", ["--password", "pw-Quiet-77"])])
def test_command_on_every_interface_warns(host: str, extra: list[str]) -> None:
    proc = subprocess.Popen(
        [*_isolated_network(), *_gwsnb(), "sandbox", "--host", host, "--port", "0", "--chains", "5", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, f"gwsnb sandbox exited early: {banner}{proc.stderr.read() if proc.stderr else ''}"
            banner += line
        _out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "warning" in err and "'agent'" in err and "fake" in err and "--password" in err
    assert f"listening on {host} port" in err
    if extra:
        assert "pw-Quiet-77" not in err + banner
        assert "default password" not in err
    else:
        assert "default password 'agent'" in err


def test_help_mentions_the_warning(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    assert "loopback" in capsys.readouterr().out

