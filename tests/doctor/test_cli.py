"""``gwsnb doctor``: the checklist and ``--json`` on stdout, exit statuses 0 / 1 / 2, the password only
from an environment variable, and what it waits for said on stderr."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gwsnb.cli import main
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, closed_port, sandbox

ENV = "GWSNB_DOCTOR_TEST_PW"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["doctor", *argv])
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def args_for(sb: Sandbox, *extra: str) -> list[str]:
    return ["--url", sb.url, "--user", sb.username, "--password-env", ENV, "--timeout", "3", *extra]


@pytest.fixture(autouse=True)
def password_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)


def test_healthy_text_exit_0(healthy: Sandbox) -> None:
    code, out, err = run(*args_for(healthy, "--campaign", healthy.campaign_name, "--application-id",
                                   str(healthy.application_id), "--handle", str(healthy.record_handles[0])))
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == f"gwsnb doctor: {healthy.url} as {healthy.username}"
    assert [line.split()[1] for line in lines[1:11]] == ["reach", "auth", "session", "csrf", "features", "devices",
                                                          "cc-session", "cometd", "clock", "round-trip"]
    assert all(line.startswith("✓") for line in lines[1:11])
    assert lines[-1] == "No problem found."
    assert len(lines) == 12  # quiet on success: no evidence lines
    # it said on stderr that it waits for the held connect, and how to skip that
    assert "holding one connect for up to 1 s" in err and "--quick" in err


def test_failure_text_exit_1_names_cause_and_fix() -> None:
    with sandbox(misconfigure="subscription_refused") as sb:
        code, out, _ = run(*args_for(sb, "--quick"))
    assert code == 1
    assert "✗ cometd" in out and "[subscription_refused]" in out and "fix: " in out
    assert out.splitlines()[-1].startswith("The cometd step failed:")
    assert "- round-trip" in out


def test_json_shape(healthy: Sandbox) -> None:
    code, out, _ = run(*args_for(healthy, "--quick", "--json"))
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["ok", "cause", "clock_offset_ms", "steps"]
    assert doc["ok"] is True and doc["cause"] is None
    low, high = doc["clock_offset_ms"]
    assert low <= high
    assert [s["name"] for s in doc["steps"]][:3] == ["reach", "auth", "session"]
    for step in doc["steps"]:
        assert list(step) == ["name", "status", "cause", "evidence", "fix"]
        assert step["status"] in ("ok", "warn", "fail", "skipped")
        assert isinstance(step["evidence"], dict) and step["evidence"]["summary"]


def test_json_of_a_failure(healthy: Sandbox) -> None:
    port = closed_port()
    code, out, _ = run("--url", f"http://127.0.0.1:{port}/api/v2", "--user", "agent", "--password-env", ENV,
                       "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["cause"] == "unreachable" and doc["clock_offset_ms"] is None
    reach = doc["steps"][0]
    assert reach["status"] == "fail" and reach["cause"] == "unreachable" and reach["fix"]


def test_tls_options(tls_sandbox: Sandbox) -> None:
    code, out, _ = run(*args_for(tls_sandbox, "--quick"))
    assert code == 1 and "[tls_untrusted]" in out and "--ca-file" in out
    code, out, _ = run(*args_for(tls_sandbox, "--quick", "--ca-file", str(tls_sandbox.ca_path)))
    assert code == 0, out
    with pytest.warns(UserWarning, match="verification is turned off"):
        from gwsnb._wire import rest

        rest._insecure_warned = False
        code, out, _ = run(*args_for(tls_sandbox, "--quick", "--insecure"))
    assert code == 0, out


@pytest.mark.parametrize("argv", [
    ["--user", "agent"],                                                    # no --url
    ["--url", "http://127.0.0.1:9/api/v2", "--user", "agent", "--campaign", "C"],  # a third of the round trip
    ["--url", "http://127.0.0.1:9/api/v2", "--user", "agent", "--password-env", "GWSNB_SURELY_UNSET_VAR"],
    ["--url", "ftp://127.0.0.1/api/v2", "--user", "agent", "--password-env", ENV],
    ["--url", "http://127.0.0.1:9/api/v2", "--user", "agent", "--application-id", "x", "--campaign", "C",
     "--handle", "1"],
    ["--url", "http://127.0.0.1:9/api/v2", "--user", "agent", "--insecure", "--ca-file", "x.pem"],
    ["--url", "http://127.0.0.1:9/api/v2", "--user", "agent", "--password", "secret"],  # no such option
])
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == "" and err


@pytest.mark.parametrize("bad", [
    ["--url", "ftp://x"],                                                      # the URL's scheme
    ["--url", "http://127.0.0.1:9/api/v2", "--ca-file", "/no/such/ca.pem"],   # a CA bundle that is not there
    ["--url", "http://127.0.0.1:9/api/v2", "--notifications-path", "no-slash"],
])
def test_a_bad_argument_is_refused_before_the_password_is_asked_for(bad: list[str]) -> None:
    """No stdin at all (as CI runs it): a prompt would read an empty line and go on; the refusal comes
    first, and no prompt is written."""
    exe = Path(sys.executable).with_name("gwsnb")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gwsnb.cli"]
    proc = subprocess.run([*cmd, "doctor", *bad, "--user", "a"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert "password" not in proc.stderr.lower(), proc.stderr
    assert proc.stderr.startswith("gwsnb doctor: "), proc.stderr


def test_the_installed_command(healthy: Sandbox) -> None:
    exe = Path(sys.executable).with_name("gwsnb")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gwsnb.cli"]
    proc = subprocess.run([*cmd, "doctor", *args_for(healthy, "--quick", "--json")], capture_output=True, text=True,
                          env={**os.environ, ENV: PASSWORD}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert PASSWORD not in proc.stdout + proc.stderr


EXPECTED = {
    "session_not_sticky": "session_not_sticky", "csrf_rejected": "csrf_rejected", "feature_missing": "feature_missing",
    "no_device": "no_device", "device_inactive": "device_inactive", "cc_session_refused": "cc_session_refused",
    "cometd_path": "cometd_not_found", "cometd_rerouted": "cometd_rerouted", "long_poll_cut": "long_poll_cut",
    "subscription_refused": "subscription_refused", "notifications_missing": "notifications_missing",
    "multiple_clients": "multiple_clients", "slow_server": "slow_server",
}
#: these need the held connect or take seconds by design
_SLOW = {"long_poll_cut", "slow_server"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n for n in EXPECTED])
def test_doctor_prints_each_misconfigurations_cause_and_fix(name: str) -> None:
    from gwsnb.doctor import CAUSES
    from gwsnb.sandbox._misconfig import MISCONFIGURATIONS

    assert set(EXPECTED) == set(MISCONFIGURATIONS)
    cause = CAUSES[EXPECTED[name]]
    held = name in ("long_poll_cut", "multiple_clients")
    with sandbox(misconfigure=name, **({"cometd_timeout_ms": 7000} if name == "long_poll_cut" else {})) as sb:
        code, out, _ = run(*args_for(sb, *([] if held else ["--quick"]), "--timeout", "1.5", "--campaign",
                                     sb.campaign_name, "--application-id", str(sb.application_id), "--handle",
                                     str(sb.record_handles[0])))
    assert code == (1 if cause.severity == "fail" else 0), out
    # the fix is the registry's, except where the evidence makes it concrete (where CometD really answers)
    fix = "fix: pass notifications_path='http://" if name == "cometd_path" else f"fix: {cause.fix}"
    assert f"[{cause.id}]" in out and fix in out
